// Per-API-key sliding-window limiter shared by the sandbox trackers. It reproduces DRF's
// SimpleRateThrottle, which is what Plane uses (trackers.md §2.4, ApiKeyRateThrottle):
//  - a history of accepted request times per key; entries older than the window are dropped;
//  - a request is refused when the history already holds `requests` entries; refused requests are
//    not added to the history;
//  - the wait DRF reports is "window - age of the oldest entry", rounded up to whole seconds
//    (DRF's Throttled does math.ceil), and it becomes the Retry-After header.
// How a tracker turns a decision into headers and bodies is the tracker's business (its routes);
// this file only decides and counts.

export type RateLimitConfig = { requests: number; perMs: number } | { disabled: true };

export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Requests still allowed in the window after this one (Plane's X-RateLimit-Remaining). */
  remaining: number;
  /** int(now + window) in epoch seconds: what Plane sends as X-RateLimit-Reset (§2.4). */
  resetEpochSec: number;
  /** Whole seconds until a slot frees up; only meaningful when refused. */
  retryAfterSec: number;
}

export class RateLimiter {
  #config: RateLimitConfig;
  #now: () => number;
  /** bucket → accepted request times (ms), oldest first. */
  #history = new Map<string, number[]>();
  #served429 = new Map<string, number>();

  /** Disabled unless a config is given: tests opt in, the `trackline sandbox` CLI may turn it on. */
  constructor(config: RateLimitConfig = { disabled: true }, now: () => number = Date.now) {
    this.#config = validate(config);
    this.#now = now;
  }

  get config(): RateLimitConfig {
    return this.#config;
  }

  get enabled(): boolean {
    return !('disabled' in this.#config);
  }

  /** Replaces the limit and forgets all history, so a new limit starts from a clean window. */
  configure(config: RateLimitConfig): void {
    this.#config = validate(config);
    this.#history.clear();
  }

  /**
   * Records one request for `key` of `tracker` and says whether it is allowed. Returns null when
   * limiting is disabled (the caller then sends no rate-limit headers at all).
   */
  check(tracker: string, key: string): RateDecision | null {
    const config = this.#config;
    if ('disabled' in config) return null;
    const now = this.#now();
    const bucket = `${tracker}:${key}`;
    const history = (this.#history.get(bucket) ?? []).filter((t) => t > now - config.perMs);
    this.#history.set(bucket, history);
    const resetEpochSec = Math.floor((now + config.perMs) / 1000);

    if (history.length >= config.requests) {
      const oldest = history[0] ?? now;
      const waitMs = config.perMs - (now - oldest);
      this.#served429.set(tracker, (this.#served429.get(tracker) ?? 0) + 1);
      return {
        allowed: false,
        limit: config.requests,
        remaining: 0,
        resetEpochSec,
        retryAfterSec: Math.max(1, Math.ceil(waitMs / 1000)),
      };
    }

    history.push(now);
    return {
      allowed: true,
      limit: config.requests,
      remaining: Math.max(0, config.requests - history.length),
      resetEpochSec,
      retryAfterSec: 0,
    };
  }

  /** 429s this limiter has refused, across all trackers. Fault-injected 429s are not counted here. */
  get served429(): number {
    let total = 0;
    for (const n of this.#served429.values()) total += n;
    return total;
  }

  served429For(tracker: string): number {
    return this.#served429.get(tracker) ?? 0;
  }

  /** Forgets history and the 429 counter; keeps the config. */
  reset(): void {
    this.#history.clear();
    this.#served429.clear();
  }
}

function validate(config: RateLimitConfig): RateLimitConfig {
  if ('disabled' in config) return { disabled: true };
  const { requests, perMs } = config;
  if (!Number.isInteger(requests) || requests < 1 || !Number.isFinite(perMs) || perMs <= 0) {
    throw new RangeError(`invalid rate limit ${JSON.stringify(config)}: need integer requests >= 1 and perMs > 0`);
  }
  return { requests, perMs };
}
