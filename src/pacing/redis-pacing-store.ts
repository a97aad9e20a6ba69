import type { Redis } from 'ioredis';
import type { PacingStore, WindowLimit } from './pacing-store.ts';

/**
 * The pacers' shared state in Redis: a window is a sorted set of event times (Redis' own clock,
 * TIME, so processes with skewed clocks agree), the events under way a second sorted set scored by
 * when they are forgotten, and a pause one key with a TTL. Each check-and-record is one Lua script,
 * so it is atomic across processes.
 */
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
// ARGV: ahead, then limit/perMs pairs. Per window: the caller's slot frees when the event `limit`
// places before it leaves. That is an event in the window, or one the callers ahead will make: the
// caller ahead by `limit` places goes out one window after its own predecessor by `limit`, and
// so on back to an event in the window (or to now). So each `limit` callers ahead add a window:
// one GitHub mutation a second with 8 queued is 8 s, not the single window an older version said.
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
    local windows = 0
    if index >= count then
      windows = math.floor((index - count) / limit) + 1
      index = index - windows * limit
    end
    local leaves = windows * w
    if index >= 0 then
      local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], now - w + 1, '+inf', 'WITHSCORES', 'LIMIT', index, 1)
      local first = tonumber(oldest[2]) + w - now
      if first > 0 then leaves = leaves + first end
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

const EXTEND_PAUSE =
  "local cur = redis.call('PTTL', KEYS[1]) if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1]) end return 1";

const limitArgs = (windows: readonly WindowLimit[]) => windows.flatMap((w) => [String(w.limit), String(w.perMs)]);

export class RedisPacingStore implements PacingStore {
  constructor(private readonly redis: Redis) {}

  async acquire(key: string, member: string, windows: readonly WindowLimit[], inFlight: { max: number; ttlMs: number }): Promise<number> {
    return Number(
      await this.redis.eval(
        ACQUIRE,
        2,
        key,
        `${key}:inflight`,
        member,
        String(inFlight.max),
        String(inFlight.ttlMs),
        ...limitArgs(windows),
      ),
    );
  }

  async estimate(key: string, ahead: number, windows: readonly WindowLimit[]): Promise<number> {
    return Number(await this.redis.eval(ESTIMATE, 1, key, String(ahead), ...limitArgs(windows)));
  }

  async settle(key: string, member: string, longestMs: number): Promise<void> {
    await this.redis.eval(SETTLE, 2, key, `${key}:inflight`, member, String(longestMs));
  }

  async release(key: string, member: string): Promise<void> {
    await this.redis.multi().zrem(key, member).zrem(`${key}:inflight`, member).exec();
  }

  async extendPause(key: string, ms: number, reason: string): Promise<void> {
    await this.redis.eval(EXTEND_PAUSE, 1, key, String(ms), reason);
  }

  async pauseLeft(key: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(key));
  }

  async pauseReason(key: string): Promise<string | null> {
    return this.redis.get(key);
  }
}
