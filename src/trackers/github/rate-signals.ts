/**
 * GitHub's budget signals (docs/trackers.md 3.5, "rate-limits-for-the-rest-api.md"):
 * - every response carries x-ratelimit-limit/remaining/used/reset/resource; reset is UTC epoch
 *   seconds and, unlike Plane's, the true end of the window;
 * - primary limit exceeded: 403 or 429 with x-ratelimit-remaining 0: wait until reset;
 * - secondary limit: 403 or 429 with a message; honour retry-after when present, else wait until
 *   reset when remaining is 0, else "at least one minute", growing exponentially while it repeats;
 * - any other 403 is a permissions problem, not a rate limit.
 */
export interface GitHubSignals {
  keep: Record<string, string>;
  /** Pause every call with this token this long. */
  pauseMs?: number;
  reason?: string;
  /** The response is a rate-limit refusal (so a 403 is not an auth error). */
  limited: boolean;
  /** A secondary limit without retry-after: the caller counts these to grow the wait. */
  secondaryWithoutRetryAfter?: boolean;
}

const KEPT = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-used', 'x-ratelimit-reset', 'x-ratelimit-resource', 'retry-after'];

/** The first wait for a secondary limit that names no time ("wait for at least one minute"). */
export const SECONDARY_BASE_MS = 60_000;
/** Growth stops here: a quarter of an hour between tries is slow enough to never look abusive. */
export const SECONDARY_MAX_MS = 15 * 60_000;
/** GitHub's clock and ours differ a little; waiting a second past reset avoids a refused first try. */
const RESET_SKEW_MS = 1_000;

/**
 * @param strikes secondary limits without retry-after seen in a row for this token, before this one.
 */
export function readGitHubSignals(status: number, headers: Headers, body: unknown, now: number, strikes: number): GitHubSignals {
  const keep: Record<string, string> = {};
  for (const name of KEPT) {
    const value = headers.get(name);
    if (value !== null) keep[name] = value;
  }
  const remaining = headers.get('x-ratelimit-remaining');
  const reset = Number(headers.get('x-ratelimit-reset'));
  const untilReset = Number.isFinite(reset) && reset > 0 ? Math.max(1_000, reset * 1000 - now + RESET_SKEW_MS) : null;

  if (status === 403 || status === 429) {
    const retryAfter = headers.get('retry-after');
    const seconds = retryAfter === null ? NaN : Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) {
      return {
        keep,
        limited: true,
        pauseMs: Math.max(1, seconds) * 1000,
        reason: `GitHub ${status} (secondary rate limit), retry-after ${retryAfter}`,
      };
    }
    if (remaining === '0' && untilReset !== null) {
      return {
        keep,
        limited: true,
        pauseMs: untilReset,
        reason: `GitHub ${status}: primary rate limit used up until ${new Date(reset * 1000).toISOString()}`,
      };
    }
    // Without headers to go by, only the message tells a secondary limit from a permission 403;
    // GitHub documents no other signal for it (trackers.md 3.5: "403 or 429 with an error message").
    if (status === 429 || mentionsRateLimit(body)) {
      const pauseMs = Math.min(SECONDARY_MAX_MS, SECONDARY_BASE_MS * 2 ** strikes);
      return {
        keep,
        limited: true,
        pauseMs,
        secondaryWithoutRetryAfter: true,
        reason: `GitHub ${status} (secondary rate limit, no retry-after): waiting ${pauseMs / 1000} s`,
      };
    }
    return { keep, limited: false };
  }
  // Allowed, but that was the last request of the window: the next one would be refused.
  if (status < 400 && remaining === '0' && untilReset !== null) {
    return {
      keep,
      limited: false,
      pauseMs: untilReset,
      reason: `GitHub primary rate limit used up until ${new Date(reset * 1000).toISOString()}`,
    };
  }
  return { keep, limited: false };
}

function mentionsRateLimit(body: unknown): boolean {
  if (!body || typeof body !== 'object') return false;
  const { message, documentation_url: doc } = body as { message?: unknown; documentation_url?: unknown };
  return (typeof message === 'string' && /rate limit/i.test(message)) || (typeof doc === 'string' && /rate-limit/i.test(doc));
}
