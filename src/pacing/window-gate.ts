import type { Redis } from 'ioredis';
import { RateLimitedError } from './rate-limited-error.ts';

/**
 * A sliding-window gate shared through Redis: a tracker credential's budget (Plane's 60 requests
 * per minute, GitHub's 5,000 per hour; the Pacer), and budgets narrower than a credential (Jira's
 * per-issue write limits: 20 writes per 2 s and 100 per 30 s on one issue, whoever writes;
 * docs/trackers.md 4.6). One sorted set per subject holds the times of recent events; an event
 * is let through only when it fits every window, so bursts are allowed up to each limit (a create
 * that needs four calls sends them at once) and the limit itself is never reached.
 *
 * Optionally at most `maxInFlight` events of a subject may be under way at once (between
 * `acquire` and `settle`/`release`), across every process: GitHub's "one mutation at a time". An
 * event in flight is forgotten after `inFlightTtlMs`, so a crashed process cannot hold it forever.
 *
 * Redis' own clock (TIME) is used, so processes with skewed clocks still agree on the windows.
 */
export interface WindowLimit {
  limit: number;
  perMs: number;
}

export interface WindowGateOptions {
  /** A wait longer than this throws RateLimitedError so the job steps aside instead. */
  inlineWaitMaxMs?: number;
  /** At most this many events under way at once (acquired, not yet settled or released). */
  maxInFlight?: number;
  /** How long an event counts as under way at most (a process that died never settles it). */
  inFlightTtlMs?: number;
}

/** How long a caller waits before asking again while the in-flight limit is reached. */
const IN_FLIGHT_POLL_MS = 20;

// KEYS[1] the window's sorted set, KEYS[2] the in-flight sorted set (score: when it is forgotten).
// ARGV: member, maxInFlight (0: none), inFlightTtlMs, then limit/perMs pairs.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxInFlight = tonumber(ARGV[2])
if maxInFlight > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= maxInFlight then return -1 end
end
local longest = 0
for i = 4, #ARGV, 2 do
  local w = tonumber(ARGV[i + 1])
  if w > longest then longest = w end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
local wait = 0
for i = 4, #ARGV, 2 do
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
if maxInFlight > 0 then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
end
return 0
`;

// How long a caller with \`ahead\` callers before it would wait (not recording anything).
// ARGV: ahead, then limit/perMs pairs.
const ESTIMATE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ahead = tonumber(ARGV[1])
local wait = 0
for i = 2, #ARGV, 2 do
  local limit = tonumber(ARGV[i])
  local w = tonumber(ARGV[i + 1])
  local count = redis.call('ZCOUNT', KEYS[1], now - w + 1, '+inf')
  local index = count + ahead - limit
  if index >= 0 then
    local leaves = w
    if index < count then
      local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], now - w + 1, '+inf', 'WITHSCORES', 'LIMIT', index, 1)
      leaves = tonumber(oldest[2]) + w - now
    end
    if leaves > wait then wait = leaves end
  end
end
return wait
`;

// Moves an event recorded by acquire() to now and ends its time in flight: used once the event is
// known to have happened. The event is added again if the window had already dropped it (a call
// that took longer than the window to answer). ARGV: member, the longest window.
const SETTLE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
`;

export class WindowGate {
  /** Counters for tests and metrics. */
  readonly stats = { passed: 0, waited: 0, waitedMs: 0 };
  private sequence = 0;
  private readonly inlineWaitMaxMs: number;
  private readonly limitArgs: string[];
  private readonly longestMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    readonly windows: readonly WindowLimit[],
    private readonly options: WindowGateOptions = {},
  ) {
    this.inlineWaitMaxMs = options.inlineWaitMaxMs ?? 5_000;
    this.limitArgs = windows.flatMap((w) => [String(w.limit), String(w.perMs)]);
    this.longestMs = Math.max(...windows.map((w) => w.perMs));
  }

  private keys(subject: string): [string, string] {
    return [`${this.keyPrefix}:${subject}`, `${this.keyPrefix}:${subject}:inflight`];
  }

  /**
   * Waits until one more event for `subject` fits every window (and the in-flight limit), then
   * records it (now, by Redis' clock). Returns the event's id, for `settle` or `release`.
   */
  async acquire(subject: string, inlineWaitMaxMs = this.inlineWaitMaxMs): Promise<string> {
    const [windowKey, inFlightKey] = this.keys(subject);
    const inFlight = [String(this.options.maxInFlight ?? 0), String(this.options.inFlightTtlMs ?? 60_000)];
    for (;;) {
      const member = `${process.pid}:${Date.now()}:${++this.sequence}:${Math.random().toString(36).slice(2, 8)}`;
      const answer = Number(await this.redis.eval(ACQUIRE, 2, windowKey, inFlightKey, member, ...inFlight, ...this.limitArgs));
      if (answer === 0) {
        this.stats.passed++;
        return member;
      }
      const wait = answer < 0 ? IN_FLIGHT_POLL_MS : answer;
      if (wait > inlineWaitMaxMs) throw new RateLimitedError(wait, `${this.describe()} for ${subject}`);
      this.stats.waited++;
      this.stats.waitedMs += wait;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * How long an event for `subject` would wait with `ahead` others queued before it (0: it would
   * pass now). An estimate: calls still to be made can only make it longer.
   */
  async estimateWait(subject: string, ahead: number): Promise<number> {
    return Number(await this.redis.eval(ESTIMATE, 1, this.keys(subject)[0], String(ahead), ...this.limitArgs));
  }

  /**
   * Moves a recorded event to now and ends its time in flight. For an event that happens some time
   * after it was let through (a request goes out after its acquire, and a cold process can take
   * tens of ms to send its first), the window then holds it from the latest moment it can have
   * happened, never too early.
   */
  async settle(subject: string, member: string): Promise<void> {
    await this.redis.eval(SETTLE, 2, ...this.keys(subject), member, String(this.longestMs));
  }

  /** Forgets an event that was let through but never happened (its call was not sent). */
  async release(subject: string, member: string): Promise<void> {
    const [windowKey, inFlightKey] = this.keys(subject);
    await this.redis.multi().zrem(windowKey, member).zrem(inFlightKey, member).exec();
  }

  describe(): string {
    const windows = this.windows
      .map((w) => `${w.limit} per ${w.perMs >= 1000 ? `${Math.round(w.perMs / 1000)} s` : `${w.perMs} ms`}`)
      .join(', ');
    return `budget (${windows}${this.options.maxInFlight ? `, ${this.options.maxInFlight} at a time` : ''})`;
  }
}
