import { createHash } from 'node:crypto';
import type { PacingStore } from './pacing-store.ts';
import { Pacer, type PacerOptions } from './pacer.ts';
import { WindowGate, type WindowLimit } from './window-gate.ts';

/** One Pacer per credential per process; every process with the same credential shares its budget. */
export class PacerRegistry {
  private readonly pacers = new Map<string, Pacer>();

  constructor(
    private readonly store: PacingStore,
    private readonly keyPrefix: string,
  ) {}

  /** The credential is hashed: neither the store's keys nor logs ever hold it. */
  forCredential(credential: string, options: Omit<PacerOptions, 'id'>): Pacer {
    const id = createHash('sha256').update(credential).digest('hex').slice(0, 16);
    let pacer = this.pacers.get(id);
    if (!pacer) {
      pacer = new Pacer(this.store, { ...options, id }, this.keyPrefix);
      this.pacers.set(id, pacer);
    }
    return pacer;
  }

  /**
   * A shared sliding-window gate for a budget narrower than a credential (Jira's per-issue write
   * limits): every process with the same `name` shares its windows, per subject, through the pacing store.
   */
  windowGate(name: string, windows: WindowLimit[]): WindowGate {
    const id = createHash('sha256').update(name).digest('hex').slice(0, 16);
    return new WindowGate(this.store, `${this.keyPrefix}:window:${id}`, windows);
  }

  all(): Pacer[] {
    return [...this.pacers.values()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.pacers.values()].map((p) => p.close()));
    this.pacers.clear();
  }
}
