import type { Logger } from 'pino';
import type { ConnectionRegistry } from '../connections/registry.ts';

/** How often a worker refreshes every connection's lookups in the background. */
export const CATALOG_REFRESH_MS = 10 * 60_000;

/**
 * Warms every connection's catalog (the lookups a create needs: states, labels, members,
 * milestones, cycles...) when a worker starts, and refreshes it every `everyMs`, so the first event
 * after a start does not wait for them (on Plane's default budget of 60 a minute, evenly spaced,
 * they took 3 s of a first create's 4.3). Each tracker's catalog says what it warms
 * (`TrackerAdapter.warm`); this knows nothing of trackers. A refresh keeps the values it has until
 * the new ones arrive, and one that fails leaves them as they were: lookups a catalog lacks still
 * load on first use, as before. A refresh costs a few calls of the budget per connection and worker
 * process (Plane: 4 every 10 minutes).
 */
export class CatalogWarmer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly log: Logger,
    private readonly everyMs = CATALOG_REFRESH_MS,
  ) {}

  start(): void {
    void this.warmAll();
    this.timer = setInterval(() => void this.warmAll(), this.everyMs);
    this.timer.unref();
  }

  /** Warms every connection at once; a refresh still running is not started twice. */
  warmAll(): Promise<void> {
    this.running ??= Promise.all(this.connections.all().map((c) => this.warm(c.config.id))).then(() => {
      this.running = null;
    });
    return this.running;
  }

  private async warm(connectionId: string): Promise<void> {
    const connection = this.connections.get(connectionId);
    const adapter = connection?.adapter();
    if (!adapter?.warm) return;
    const started = Date.now();
    try {
      await adapter.warm({});
      this.log.debug({ connection: connectionId, ms: Date.now() - started }, 'catalog warmed');
    } catch (error) {
      this.log.warn({ connection: connectionId, err: (error as Error).message }, 'catalog warming failed; lookups load on first use');
    }
  }

  /** Stops refreshing. A warm under way is not waited for: it may be waiting on a slow tracker. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
