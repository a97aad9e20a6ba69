import { RateLimitedError } from '../../pacing/rate-limited-error.ts';

/**
 * The one error type for tracker calls. The status and whether a retry can help travel on the
 * error itself, so the job never classifies failures by reading message text.
 */
export type TrackerErrorKind =
  | 'rate_limited' // 429 or a rate-limit 403: wait as asked, no attempt used
  | 'server' // 5xx: retry with backoff
  | 'network' // reset, refused, DNS: retry with backoff
  | 'timeout' // no answer in time: retry with backoff
  | 'client' // 400/422 and friends: the request is wrong, retrying repeats it
  | 'auth' // 401/403: credentials or permissions, an operator must act
  | 'not_found' // 404: the issue or project is gone
  | 'not_ready' // what the call needs is not there yet (a project item's issue still being created): retry with backoff
  | 'config'; // Trackline's own config does not fit the tracker (unknown state name...)

const RETRYABLE: ReadonlySet<TrackerErrorKind> = new Set(['rate_limited', 'server', 'network', 'timeout', 'not_ready']);

export class TrackerError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly kind: TrackerErrorKind,
    message: string,
    readonly details: { status?: number; retryAfterMs?: number; method?: string; path?: string } = {},
  ) {
    super(message);
    this.name = 'TrackerError';
    this.retryable = RETRYABLE.has(kind);
  }
  get status(): number | undefined {
    return this.details.status;
  }
}

export function kindForStatus(status: number): TrackerErrorKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404 || status === 410) return 'not_found';
  if (status >= 500) return 'server';
  // 408 Request Timeout and 425 Too Early are the server asking for a later retry.
  if (status === 408 || status === 425) return 'timeout';
  return 'client';
}

/**
 * Some fields of an update were written and one could not be (Jira: a workflow with no way to
 * the mapped state). It carries the issue as the tracker now has it, so the engine can keep what
 * was written, hold the one field in a conflict for an operator, and not fail the other fields
 * or retry forever.
 */
export class PartialUpdateError extends TrackerError {
  constructor(
    message: string,
    /** The issue as the tracker now has it. */
    readonly partial: import('./tracker.ts').RemoteIssue,
    /** The field that could not be written. */
    readonly field: import('../fields.ts').FieldName,
  ) {
    super('config', message);
    this.name = 'PartialUpdateError';
  }
}

/**
 * The tracker cannot take some fields' values (a select option that does not exist, text for a
 * number field, a field the board lacks) and took the others. Not retried: the same values fail
 * the same way. The engine keeps what was written, leaves the refused fields' base as it was (so
 * the next change of the item tries them again), and fails the delivery with these messages,
 * each naming the tracker's field and why. Unlike PartialUpdateError nothing is held as a
 * conflict: a new value from the orchestrator simply goes out.
 */
export class RefusedFieldsError extends TrackerError {
  constructor(
    /** The issue as the tracker now has it. */
    readonly partial: import('./tracker.ts').RemoteIssue,
    readonly refused: { field: import('../fields.ts').FieldName; message: string }[],
  ) {
    super('client', refused.map((r) => r.message).join('; '));
    this.name = 'RefusedFieldsError';
  }
}

/**
 * The tracker answered a create call with a refusal (a 429, a 4xx): it created nothing. An
 * adapter whose marker lookup lags its writes (markerLookupLagMs) throws this for its create
 * request only, never for a call made after the issue exists, so the engine can drop the create
 * intent and let the retry create at once instead of waiting out the lag.
 */
export class CreateRefusedError extends TrackerError {
  constructor(refusal: TrackerError) {
    super(refusal.kind, refusal.message, refusal.details);
    this.name = 'CreateRefusedError';
  }
}

/**
 * The pacer held an adapter's create request itself back (its wait was longer than a job may hold
 * a worker slot): the request never left, so nothing was made. Still a RateLimitedError, so the
 * job steps aside as for any other call; the engine also drops the create intent, so the resumed
 * job creates at once instead of first spending a request of the very budget it waited for on a
 * marker lookup for an issue that cannot exist (under a burst, every create paid that twice).
 */
export class CreateDeferredError extends RateLimitedError {
  constructor(held: RateLimitedError) {
    super(held.waitMs, held.reason);
    this.name = 'CreateDeferredError';
  }
}

/** Wraps an adapter's create request: a step-aside there means the create was never sent. */
export async function createRequest<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw error instanceof RateLimitedError && !(error instanceof CreateDeferredError) ? new CreateDeferredError(error) : error;
  }
}

/** Kinds of answer that prove a call was refused, not lost: the tracker said no. */
export const REFUSAL_KINDS: ReadonlySet<TrackerErrorKind> = new Set(['rate_limited', 'client', 'auth', 'not_found']);
