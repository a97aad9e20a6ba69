import type { Logger } from 'pino';
import type { TrackerCall } from '../trackers/call-recorder.ts';
import { deliveryContext } from '../support/log-context.ts';

/**
 * One log line per tracker call, carrying the request id of the work it belongs to, so
 * `grep <request id>` follows a change from the api through its jobs to each tracker call.
 * Calls log at debug (a busy install makes thousands a minute), except the ones that say the
 * tracker or the network is in trouble (5xx, 429, no answer), at info: a job's own warning says
 * how the job ended, not that its first two tries met a 502. A 4xx stays at debug: adapters
 * expect some (a lookup's 404), and a refusal that fails the job is in the job's warning.
 * The line holds what the tracker_calls row holds: method, path without query, status, budget
 * headers; never request headers or bodies.
 */
export function trackerCallLogger(log: Logger): (call: TrackerCall) => void {
  return (call) => {
    const failed = call.error !== undefined || (call.status ?? 0) >= 400;
    const trouble = call.status === undefined || call.status === 429 || call.status >= 500;
    const level = trouble ? 'info' : 'debug';
    if (!log.isLevelEnabled(level)) return;
    const { requestId, kind, job } = deliveryContext(call.deliveryId);
    log[level](
      {
        connection: call.connectionId,
        method: call.method,
        path: call.path,
        status: call.status ?? null,
        durationMs: call.durationMs,
        delivery: call.deliveryId,
        requestId,
        kind,
        job,
        rateLimit: call.rateLimit,
        ...(call.error ? { err: call.error } : {}),
      },
      failed ? 'tracker call failed' : 'tracker call',
    );
  };
}
