/**
 * The bookkeeping a sandbox webhook sender needs to deliver the way a tracker's workers do, shared
 * by the Plane and Jira senders (each keeps its own wire format, headers and retry rules):
 * - deliveries with one key (one issue on one webhook) go out in order, one after another;
 * - retries wait in sleeps, and requests run with an abort signal;
 * - dispose() abandons everything at once (sleeps end, requests in flight are aborted), so
 *   drain() resolves and a test run can stop without waiting out retry delays.
 */
export class DeliveryQueue {
  /** Tail of each key's chain. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #pending = new Set<Promise<void>>();
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout; resolve(): void }>();
  readonly #aborts = new Set<AbortController>();
  #disposed = false;

  /** `label` names the sender in the error line of a delivery that threw (a sandbox bug). */
  constructor(private readonly label: string) {}

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Deliveries kept back by hold(), in the order they were queued. */
  #held: Array<{ key: string; deliver: () => Promise<void> }> | null = null;

  /**
   * Keeps new deliveries back until release(): a tracker's webhook often arrives well after the
   * change it reports, and tests need the window in between to be as long as they like.
   */
  hold(): void {
    this.#held ??= [];
  }

  /** Sends what hold() kept back, in order, and stops holding. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const { key, deliver } of held) this.enqueue(key, deliver);
  }

  /** Runs `deliver` after every delivery queued before it under the same key. */
  enqueue(key: string, deliver: () => Promise<void>): void {
    if (this.#held) {
      this.#held.push({ key, deliver });
      return;
    }
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const next = previous
      .then(deliver)
      // A delivery handles network errors itself; anything else is a sandbox bug, which must not
      // stall the deliveries queued behind it.
      .catch((error: unknown) => console.error(`[sandbox] ${this.label} webhook delivery failed`, error));
    this.#chains.set(key, next);
    this.#pending.add(next);
    void next.finally(() => {
      this.#pending.delete(next);
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
  }

  /** Resolves once every queued delivery has been sent or has given up (retries included). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Waits `ms`, or less if the queue is disposed meanwhile. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#sleeps.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.#sleeps.add(entry);
    });
  }

  /** Runs a request with a signal that dispose() aborts (and that aborts after `timeoutMs`, if given). */
  async withAbort<T>(run: (signal: AbortSignal) => Promise<T>, timeoutMs?: number): Promise<T> {
    const abort = new AbortController();
    this.#aborts.add(abort);
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => abort.abort(), timeoutMs);
    try {
      return await run(abort.signal);
    } finally {
      clearTimeout(timer);
      this.#aborts.delete(abort);
    }
  }

  /** Abandons queued retries and requests in flight; drain() then resolves. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const s of this.#sleeps) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.#sleeps.clear();
    for (const a of this.#aborts) a.abort();
  }
}
