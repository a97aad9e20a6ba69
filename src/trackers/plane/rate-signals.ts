import type { RateSignals } from '../http-client.ts';

/**
 * Plane's budget signals (apps/api/plane/api/rate_limit.py): allowed responses carry
 * X-RateLimit-Remaining and X-RateLimit-Reset (epoch seconds, always now + window); a 429
 * carries only Retry-After (seconds).
 */
export function readPlaneSignals(status: number, headers: Headers): RateSignals {
  const keep: Record<string, string> = {};
  for (const name of ['x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after']) {
    const value = headers.get(name);
    if (value !== null) keep[name] = value;
  }
  if (status === 429) {
    const seconds = Number(headers.get('retry-after'));
    // Without a usable Retry-After, wait out a whole default window (60 requests per minute).
    const pauseMs = Number.isFinite(seconds) && seconds >= 0 ? Math.max(1, seconds) * 1000 : 60_000;
    return { keep, pauseMs, reason: `Plane 429, Retry-After ${headers.get('retry-after') ?? 'absent'}`, limited: true };
  }
  const remaining = headers.get('x-ratelimit-remaining');
  const reset = Number(headers.get('x-ratelimit-reset'));
  if (remaining === '0' && Number.isFinite(reset)) {
    // Reset is "now + window", not the true window end, so it is an upper bound: cap it at one window.
    const pauseMs = Math.min(60_000, Math.max(0, reset * 1000 - Date.now()));
    return { keep, pauseMs, reason: 'Plane budget used up (X-RateLimit-Remaining: 0)' };
  }
  return { keep };
}
