/**
 * What a Postgres or Redis error means for the caller, in one place: the api answers 503 for it
 * and the jobs retry it, so the two can never disagree about which errors are passing.
 */

/**
 * Postgres or Redis unreachable, or the connection dropped mid-query: node's socket codes,
 * postgres.js' own (CONNECT_TIMEOUT, CONNECTION_CLOSED, CONNECTION_DESTROYED...), Postgres' class
 * 08 (connection exception) and 57P (shutdown, cannot connect now), ioredis' closed-stream messages.
 */
export function isStorageUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = (error as { message?: unknown } | null)?.message;
  return (
    (typeof code === 'string' && /^(ECONN|ETIMEDOUT|EPIPE|CONNECT_TIMEOUT|CONNECTION_|57P|08)/.test(code)) ||
    (typeof message === 'string' && /Stream isn't writeable|Connection is closed/.test(message))
  );
}

/** Worth running again: storage unavailable, or a transaction Postgres aborted (serialization failure, deadlock). */
export function isRetryableStorageError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return isStorageUnavailable(error) || (typeof code === 'string' && /^(40001|40P01)$/.test(code));
}
