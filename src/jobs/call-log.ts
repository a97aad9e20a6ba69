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

  constructor(
    private readonly sql: Sql,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = 250,
  ) {}

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
        // The rows travel as one JSON parameter: one statement text for every batch size, so it is
        // prepared once, where `insert ... ${sql(rows)}` made a new statement of 9 parameters a
        // row for every size (a few hundred parameters, parsed afresh, four times a second).
        const rows = batch.map((c) => ({
          delivery_id: c.deliveryId ?? null,
          connection_id: c.connectionId,
          method: c.method,
          path: c.path,
          status: c.status ?? null,
          duration_ms: c.durationMs,
          rate_limit: c.rateLimit ?? null,
          error: c.error ?? null,
          at: c.at.toISOString(),
        }));
        await this.sql`insert into tracker_calls (delivery_id, connection_id, method, path, status, duration_ms, rate_limit, error, at)
          select delivery_id, connection_id, method, path, status, duration_ms, rate_limit, error, at
          from jsonb_to_recordset(${this.sql.json(rows as never)})
            as c(delivery_id uuid, connection_id text, method text, path text, status int, duration_ms int, rate_limit jsonb, error text, at timestamptz)`;
      } catch (error) {
        this.onError(error);
      }
    });
    return this.flushing;
  }
}
