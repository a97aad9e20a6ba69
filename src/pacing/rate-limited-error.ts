/**
 * A pacer's answer when the wait for a slot is longer than a job should hold its worker: the job
 * steps aside (moved to delayed, no attempt used) and resumes after `waitMs`. Its own file because
 * the pacer and the window gate both throw it.
 */
export class RateLimitedError extends Error {
  constructor(
    readonly waitMs: number,
    readonly reason: string,
  ) {
    super(`rate limited: ${reason}; resuming in ${Math.ceil(waitMs / 1000)} s`);
    this.name = 'RateLimitedError';
  }
}
