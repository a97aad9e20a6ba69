/**
 * What a Postgres or Redis error means for the caller, in one place: the api answers 503 for it
 * and the jobs retry it, so the two can never disagree about which errors are passing.
 */

/**
 * Postgres or Redis unreachable, or the connection dropped mid-query: node's socket codes,
 * postgres.js' own (CONNECT_TIMEOUT, CONNECTION_CLOSED, CONNECTION_DESTROYED...), Postgres' class
 * 08 (connection exception), 57P (shutdown, cannot connect now) and 53 (insufficient resources:
 * 53300 too many connections, out of memory, disk full: the server is there but cannot take the
 * work now; a job that treated "too many clients" as permanent failed for good on a busy server),
 * ioredis' closed-stream messages.
 */
export function isStorageUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = (error as { message?: unknown } | null)?.message;
  return (
    (typeof code === 'string' && /^(ECONN|ETIMEDOUT|EPIPE|CONNECT_TIMEOUT|CONNECTION_|57P|08|53)/.test(code)) ||
    (typeof message === 'string' && /Stream isn't writeable|Connection is closed/.test(message))
  );
}

/**
 * Worth running again: storage unavailable, a transaction Postgres aborted (serialization failure,
 * deadlock), or a statement cancelled by the statement timeout (57014: it waited on a lock or ran
 * long; `[database] statement_timeout`).
 */
export function isRetryableStorageError(error: unknown): boolean {
  return isStorageUnavailable(error) || isStorageBusy(error);
}

/** Postgres refused or cancelled the statement for now, not for good: 40001, 40P01, 57014. */
export function isStorageBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && /^(40001|40P01)$/.test(code)) || isStatementTimeout(error);
}

/** 57014 query_canceled: the statement timeout (or an operator's pg_cancel_backend) stopped it. */
export function isStatementTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '57014';
}
