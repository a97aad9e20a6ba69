import type { RateSignals, ResponseHeaders } from '../http-client.ts';

/**
 * Plane's budget signals (apps/api/plane/api/rate_limit.py): allowed responses carry
 * X-RateLimit-Remaining and X-RateLimit-Reset (epoch seconds, always now + window); a 429
 * carries only Retry-After (seconds).
 *
 * Only the 429 pauses the connection. `Remaining: 0` is what a sliding window reports at full
 * use (our own spacing hits it on every window), and its Reset is not the window's end but always
 * now + 60 s, so pausing until it would halve the throughput for nothing. If another client
 * shares the key and the window really is full, the 429's Retry-After says exactly how long.
 */
export function readPlaneSignals(status: number, headers: ResponseHeaders): RateSignals {
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
  return { keep };
}
