import type { Sql } from '../db/client.ts';
import type { CallRecorder, TrackerCall } from '../trackers/call-recorder.ts';

/**
 * Writes tracker calls to the tracker_calls table in batches: one INSERT per quarter second
 * instead of one per call keeps the audit of every call off the sync's hot path.
 */
export class BufferedCallLog implements CallRecorder {
  private buffer: TrackerCall[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** Subscribers see every call as it happens (metrics, tests). */
  private readonly listeners: Array<(call: TrackerCall) => void> = [];

  constructor(private readonly sql: Sql, private readonly onError: (error: unknown) => void, private readonly intervalMs = 250) {}

  record(call: TrackerCall): void {
    this.buffer.push(call);
    for (const l of this.listeners) l(call);
    if (this.buffer.length >= 500) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  onCall(listener: (call: TrackerCall) => void): void {
    this.listeners.push(listener);
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      try {
        await this.sql`insert into tracker_calls ${this.sql(
          batch.map((c) => ({
            delivery_id: c.deliveryId ?? null,
            connection_id: c.connectionId,
            method: c.method,
            path: c.path,
            status: c.status ?? null,
            duration_ms: c.durationMs,
            rate_limit: c.rateLimit ? this.sql.json(c.rateLimit) : null,
            error: c.error ?? null,
            at: c.at,
          })),
        )}`;
      } catch (error) {
        this.onError(error);
      }
    });
    return this.flushing;
  }
}
