import type { Redis } from 'ioredis';
import { RateLimitedError } from './rate-limited-error.ts';

/**
 * A sliding-window gate shared through Redis, for budgets narrower than a credential: Jira's
 * per-issue write limits (20 writes per 2 s and 100 per 30 s on one issue, whoever writes;
 * docs/trackers.md 4.6). One sorted set per subject holds the times of recent events; an event
 * is let through only when it fits every window, so bursts are allowed up to each limit (a reconcile
 * that edits and transitions an issue pays no spacing) and the limit itself is never reached.
 *
 * Redis' own clock (TIME) is used, so processes with skewed clocks still agree on the windows.
 */
export interface WindowLimit {
  limit: number;
  perMs: number;
}

const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local longest = 0
for i = 2, #ARGV, 2 do
  local w = tonumber(ARGV[i + 1])
  if w > longest then longest = w end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
local wait = 0
for i = 2, #ARGV, 2 do
  local limit = tonumber(ARGV[i])
  local w = tonumber(ARGV[i + 1])
  local count = redis.call('ZCOUNT', KEYS[1], now - w + 1, '+inf')
  if count >= limit then
    local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], now - w + 1, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
    local leaves = tonumber(oldest[2]) + w - now
    if leaves > wait then wait = leaves end
  end
end
if wait > 0 then return wait end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], longest)
return 0
`;

// Moves an event recorded by acquire() to now: used once the event is known to have happened.
const SETTLE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 0
`;

export class WindowGate {
  /** Counters for tests and metrics. */
  readonly stats = { passed: 0, waited: 0, waitedMs: 0 };
  private sequence = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    readonly windows: readonly WindowLimit[],
    /** A wait longer than this throws RateLimitedError so the job steps aside instead. */
    private readonly inlineWaitMaxMs = 5_000,
  ) {}

  /**
   * Waits until one more event for `subject` fits every window, then records it (now, by Redis'
   * clock). Returns the event's id, for `settle`.
   */
  async acquire(subject: string): Promise<string> {
    const args = this.windows.flatMap((w) => [String(w.limit), String(w.perMs)]);
    for (;;) {
      const member = `${process.pid}:${Date.now()}:${++this.sequence}:${Math.random().toString(36).slice(2, 8)}`;
      const wait = Number(await this.redis.eval(SCRIPT, 1, `${this.keyPrefix}:${subject}`, member, ...args));
      if (!(wait > 0)) {
        this.stats.passed++;
        return member;
      }
      if (wait > this.inlineWaitMaxMs) {
        throw new RateLimitedError(
          wait,
          `per-subject limit (${this.windows.map((w) => `${w.limit} per ${w.perMs / 1000} s`).join(', ')}) for ${subject}`,
        );
      }
      this.stats.waited++;
      this.stats.waitedMs += wait;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * Moves a recorded event to now. For an event that happens some time after it was let through (a
   * request goes out after its acquire, and a cold process can take tens of ms to send its first),
   * the window then holds it from the latest moment it can have happened, never too early.
   */
  async settle(subject: string, member: string): Promise<void> {
    await this.redis.eval(SETTLE, 1, `${this.keyPrefix}:${subject}`, member);
  }
}
