// GitHub's rate limits as the sandbox enforces them (trackers.md 3.5):
// - primary: a fixed window per token and resource (core 5,000/h, search 30/min, graphql 5,000/h),
//   reported on every answer as x-ratelimit-limit/remaining/used/reset/resource; a 304 to a
//   conditional request is free; exceeded: 403 (or 429) with remaining 0 and the reset time;
// - secondary: content-creating requests per token in a sliding window (GitHub documents "no more
//   than 80 content-generating requests per minute"), refused with 403 and retry-after;
// - switches for tests: `injectSecondary` (the 403/429 forms, with or without retry-after) and
//   `exhaust` (primary used up until its reset).

import { RateLimiter, type RateLimitConfig } from '../rate-limit.ts';

export type Resource = 'core' | 'search' | 'graphql';

export interface PrimaryLimit {
  limit: number;
  windowMs: number;
}

export interface GitHubLimitsConfig {
  core?: PrimaryLimit;
  search?: PrimaryLimit;
  graphql?: PrimaryLimit;
  /** Content-creating requests per token. @defaultValue 80 per minute */
  secondary?: RateLimitConfig;
  /** Status of a primary refusal; GitHub uses both. @defaultValue 403 */
  primaryStatus?: 403 | 429;
}

export interface InjectedLimit {
  /** @defaultValue 403 */
  status?: 403 | 429;
  /** Seconds; absent sends the form without retry-after ("wait at least a minute"). */
  retryAfter?: number;
  /** @defaultValue 1 */
  times?: number;
  method?: string;
  pathIncludes?: string;
}

export interface WindowState {
  limit: number;
  remaining: number;
  used: number;
  /** Epoch seconds. */
  reset: number;
  resource: Resource;
}

const DEFAULTS: Record<Resource, PrimaryLimit> = {
  core: { limit: 5000, windowMs: 3_600_000 },
  search: { limit: 30, windowMs: 60_000 },
  graphql: { limit: 5000, windowMs: 3_600_000 },
};

export const PRIMARY_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api';
export const SECONDARY_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits';

export function primaryBody(userId: number): Record<string, unknown> {
  return {
    message: `API rate limit exceeded for user ID ${userId}. If you reach out to GitHub Support for help, please include the request ID.`,
    documentation_url: PRIMARY_DOCS,
  };
}

export const SECONDARY_BODY = {
  message:
    'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.',
  documentation_url: SECONDARY_DOCS,
};

export class GitHubLimits {
  #primary: Record<Resource, PrimaryLimit> = { ...DEFAULTS };
  #windows = new Map<string, { resetAt: number; used: number }>();
  #secondary = new RateLimiter({ requests: 80, perMs: 60_000 });
  #injected: (InjectedLimit & { left: number })[] = [];
  primaryStatus: 403 | 429 = 403;
  /** Refusals served, for tests ("no 403/429 from the sandbox"). */
  readonly served = { primary: 0, secondary: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  configure(config: GitHubLimitsConfig): void {
    for (const r of ['core', 'search', 'graphql'] as const) if (config[r]) this.#primary[r] = config[r]!;
    if (config.secondary) this.#secondary.configure(config.secondary);
    if (config.primaryStatus) this.primaryStatus = config.primaryStatus;
    this.#windows.clear();
  }

  /** Counts one request; `allowed` false when the window is used up. */
  take(token: string, resource: Resource): { allowed: boolean; state: WindowState } {
    const w = this.#window(token, resource);
    const limit = this.#primary[resource].limit;
    const allowed = w.used < limit;
    if (allowed) w.used += 1;
    else this.served.primary += 1;
    return { allowed, state: this.#state(w, resource) };
  }

  /** The window as it stands, without counting a request. */
  peek(token: string, resource: Resource): WindowState {
    return this.#state(this.#window(token, resource), resource);
  }

  /** A 304 does not count against the primary limit. */
  refund(token: string, resource: Resource): WindowState {
    const w = this.#window(token, resource);
    w.used = Math.max(0, w.used - 1);
    return this.#state(w, resource);
  }

  /** The token's window used up until its reset (or for `forMs` from now). */
  exhaust(token: string, resource: Resource = 'core', forMs?: number): void {
    const w = this.#window(token, resource);
    w.used = this.#primary[resource].limit;
    if (forMs !== undefined) w.resetAt = this.now() + forMs;
  }

  /** Content-creating request: null when allowed, else seconds to wait. */
  takeSecondary(token: string): number | null {
    const decision = this.#secondary.check('github', token);
    if (!decision || decision.allowed) return null;
    this.served.secondary += 1;
    return decision.retryAfterSec;
  }

  injectSecondary(spec: InjectedLimit): void {
    this.#injected.push({ ...spec, left: spec.times ?? 1 });
  }

  /** The next injected refusal matching this request, if any. */
  takeInjected(method: string, path: string): InjectedLimit | undefined {
    const i = this.#injected.findIndex(
      (f) => (!f.method || f.method.toUpperCase() === method) && (!f.pathIncludes || path.includes(f.pathIncludes)),
    );
    if (i < 0) return undefined;
    const f = this.#injected[i]!;
    f.left -= 1;
    if (f.left <= 0) this.#injected.splice(i, 1);
    this.served.secondary += 1;
    return f;
  }

  reset(): void {
    this.#windows.clear();
    this.#injected = [];
    this.#secondary.reset();
    this.served.primary = 0;
    this.served.secondary = 0;
  }

  headers(state: WindowState): Record<string, string> {
    return {
      'x-ratelimit-limit': String(state.limit),
      'x-ratelimit-remaining': String(state.remaining),
      'x-ratelimit-reset': String(state.reset),
      'x-ratelimit-used': String(state.used),
      'x-ratelimit-resource': state.resource,
    };
  }

  #window(token: string, resource: Resource): { resetAt: number; used: number } {
    const key = `${resource}:${token}`;
    const now = this.now();
    let w = this.#windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { resetAt: now + this.#primary[resource].windowMs, used: 0 };
      this.#windows.set(key, w);
    }
    return w;
  }

  #state(w: { resetAt: number; used: number }, resource: Resource): WindowState {
    const limit = this.#primary[resource].limit;
    return { limit, remaining: Math.max(0, limit - w.used), used: w.used, reset: Math.ceil(w.resetAt / 1000), resource };
  }
}
