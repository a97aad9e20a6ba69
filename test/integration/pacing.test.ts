import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { REDIS_AVAILABLE, REDIS_URL, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { Pacer, type PacerOptions } from '../../src/pacing/pacer.ts';
import { RateLimitedError } from '../../src/pacing/rate-limited-error.ts';
import { RedisPacingStore } from '../../src/pacing/redis-pacing-store.ts';
import { PostgresPacingStore } from '../../src/pacing/postgres-pacing-store.ts';
import postgres from 'postgres';

let h: Harness;
const clients: Redis[] = [];
const pgClients: postgres.Sql[] = [];
beforeAll(async () => {
  // Real pacing: the connection's budget is 10 requests per 5 s, and so is the sandbox's (a
  // window shaped like Plane's 60 per minute, shortened so the test stays quick).
  h = await startHarness('pacing', { plane: { rate_limit: { requests: 10, per: '5s' } } });
  h.sandbox.rateLimit.configure({ requests: 10, perMs: 5000 });
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const c of pgClients) await c.end({ timeout: 1 });
  await h?.close();
});

type Store = 'redis' | 'postgres';
/** Both stores, or PostgreSQL alone on a machine without Redis. */
const STORES: Store[] = REDIS_AVAILABLE ? ['redis', 'postgres'] : ['postgres'];
let sequence = 0;
/**
 * A pacer as one worker process has it: its own connection to the shared store (Redis, or the
 * test's PostgreSQL database with migration 0009's tables and functions), the shared key prefix.
 */
function processPacer(options: Omit<PacerOptions, 'id'>, id = `p${Date.now()}-${++sequence}`, store: Store = 'redis'): Pacer {
  if (store === 'postgres') {
    const sql = postgres(h.databaseUrl, { max: 2, onnotice: () => {} });
    pgClients.push(sql);
    return new Pacer(new PostgresPacingStore(sql), { ...options, id }, h.redisPrefix);
  }
  const client = new Redis(REDIS_URL);
  clients.push(client);
  return new Pacer(new RedisPacingStore(client), { ...options, id }, h.redisPrefix);
}

/** The most calls any window of `perMs` holds. */
function busiest(times: number[], perMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return Math.max(...sorted.map((t) => sorted.filter((u) => u >= t && u < t + perMs).length));
}

describe.each<Store>(STORES)('pacing by the window, shared in %s', (store) => {
  it('a burst of 4 calls on a fresh 60-per-minute budget goes out at once', async () => {
    const pacer = processPacer({ requests: 60, perMs: 60_000 }, undefined, store);
    const started = Date.now();
    const sentAt: number[] = [];
    await Promise.all(Array.from({ length: 4 }, () => pacer.schedule(async () => void sentAt.push(Date.now()))));
    // Even spacing (window ÷ budget) would have sent them a second apart: 3 s for the fourth.
    // (Round trips only: well under that even on a loaded machine.)
    expect(Math.max(...sentAt) - started).toBeLessThan(1500);
    expect(pacer.stats.heldMs).toBe(0);
  });

  it('two processes sharing a credential never exceed the budget in any window, and use it', async () => {
    const id = `shared-${Date.now()}`;
    const pacers = [processPacer({ requests: 10, perMs: 1000 }, id, store), processPacer({ requests: 10, perMs: 1000 }, id, store)];
    const sentAt: number[] = [];
    const started = Date.now();
    // 25 calls from each process at once: the first 10 go together, the rest as the window frees.
    await Promise.all(pacers.flatMap((p) => Array.from({ length: 25 }, () => p.schedule(async () => void sentAt.push(Date.now())))));
    const elapsed = Date.now() - started;
    expect(sentAt).toHaveLength(50);
    expect(busiest(sentAt, 1000)).toBeLessThanOrEqual(10);
    sentAt.sort((a, b) => a - b);
    for (let i = 0; i + 10 < sentAt.length; i++) expect(sentAt[i + 10] - sentAt[i]).toBeGreaterThanOrEqual(1000);
    // The first window's worth went at once; 50 calls at 10 per second need 4 further windows.
    expect(sentAt[9] - sentAt[0]).toBeLessThan(500);
    expect(elapsed).toBeGreaterThanOrEqual(4000);
  }, 20_000);

  it('a wait longer than the job should hold its worker steps aside with the window’s wait, not longer', async () => {
    const pacer = processPacer({ requests: 2, perMs: 10_000 }, undefined, store);
    await Promise.all([pacer.schedule(async () => 1), pacer.schedule(async () => 2)]);
    const third = await pacer.schedule(async () => 3, 1000).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(RateLimitedError);
    // The oldest call leaves the window 10 s (and the jitter allowance) after it was answered.
    expect((third as RateLimitedError).waitMs).toBeGreaterThan(9_000);
    expect((third as RateLimitedError).waitMs).toBeLessThanOrEqual(10_100);
    expect((third as RateLimitedError).message).toMatch(/budget \(2 per 10 s\) used up/);
  });

  it('a 429 pause started by one process holds every process of the credential', async () => {
    const id = `pause-${Date.now()}`;
    const [first, second] = [
      processPacer({ requests: 100, perMs: 1000 }, id, store),
      processPacer({ requests: 100, perMs: 1000 }, id, store),
    ];
    await first.pause(600, 'Retry-After: 1');
    const started = Date.now();
    await second.schedule(async () => undefined);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    // A longer pause than the job may wait out steps aside, with the tracker's reason.
    await first.pause(30_000, 'remaining 0 until reset');
    const aside = await processPacer({ requests: 100, perMs: 1000 }, id, store)
      .schedule(async () => 1, 1000)
      .catch((e: unknown) => e);
    expect(aside).toBeInstanceOf(RateLimitedError);
    expect((aside as RateLimitedError).message).toMatch(/remaining 0 until reset/);
    // A shorter pause does not cut the longer one short.
    await processPacer({ requests: 100, perMs: 1000 }, id, store).pause(10, 'short');
    expect(await processPacer({ requests: 100, perMs: 1000 }, id, store).pauseRemaining()).toBeGreaterThan(25_000);
  });
});

describe('the connection', () => {
  it('the connection: no 429, a burst uses the window, the rest waits for it', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `paced/${i}`);
    const started = Date.now();
    await h.postEvents({ events: keys.map((key) => ({ type: 'item.upserted', item: { key, title: key } })) });
    await waitFor(() => h.sql`select count(*)::int as n from mappings where status = 'synced'`.then((r) => r[0].n === keys.length), 30_000);
    const calls = h.sandbox.log.entries({ tracker: 'plane' });
    // Catalog reads + 12 creates: more than one window's budget of 10.
    expect(calls.length).toBeGreaterThan(12);
    expect(calls.filter((c) => c.status === 429)).toEqual([]);
    expect(h.sandbox.rateLimit.served429).toBe(0);
    const times = calls.map((c) => Date.parse(c.at)).sort((a, b) => a - b);
    // Never more than the budget in any 5 s window, measured where the tracker measures it...
    expect(busiest(times, 5000)).toBeLessThanOrEqual(10);
    // ...yet the first 10 calls were not spaced (even spacing would put them 4.5 s apart).
    // (The worker's catalog warming made its calls at start, more than a window before.)
    const sinceStart = times.filter((t) => t >= started - 50);
    expect(sinceStart[9] - sinceStart[0]).toBeLessThan(2500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
  }, 40_000);
});

describe.each<Store>(STORES)('a call that goes out late, shared in %s', (store) => {
  it('is counted from when it was answered, so a busy event loop cannot tip the window over', async () => {
    const pacer = processPacer({ requests: 10, perMs: 1000 }, undefined, store);
    const sentAt: number[] = [];
    const started = Date.now();
    const calls = Array.from({ length: 12 }, () => pacer.schedule(async () => void sentAt.push(Date.now())));
    // The event loop is busy from 50 to 200 ms, so some calls go out late.
    await new Promise((r) => setTimeout(r, 50 - (Date.now() - started)));
    const until = Date.now() + 150;
    while (Date.now() < until) {
      /* a long synchronous task */
    }
    await Promise.all(calls);
    sentAt.sort((a, b) => a - b);
    for (let i = 0; i + 10 < sentAt.length; i++) expect(sentAt[i + 10] - sentAt[i]).toBeGreaterThanOrEqual(1000);
    expect(pacer.stats.heldMs).toBeGreaterThan(0);
  }, 20_000);

  it('counts from its answer: a process whose first request takes 80 ms to leave (cold) does not let the eleventh through early', async () => {
    // Two pacers for one credential: two worker processes sharing the budget through Redis.
    const id = `slow-${Date.now()}`;
    const pacers = [processPacer({ requests: 10, perMs: 1000 }, id, store), processPacer({ requests: 10, perMs: 1000 }, id, store)];
    const arrivedAt: number[] = [];
    const arrive = async () => void arrivedAt.push(Date.now());
    // The cold process's first request reaches the tracker 80 ms after it was let through.
    const cold = pacers[0].schedule(async () => {
      await new Promise((r) => setTimeout(r, 80));
      await arrive();
    });
    await new Promise((r) => setTimeout(r, 5));
    const warm = Array.from({ length: 10 }, () => pacers[1].schedule(arrive));
    await Promise.all([cold, ...warm]);
    arrivedAt.sort((a, b) => a - b);
    expect(arrivedAt[10] - arrivedAt[0]).toBeGreaterThanOrEqual(1000);
  }, 20_000);
});

describe.each<Store>(STORES)('one at a time, a second apart (GitHub mutations), shared in %s', (store) => {
  it('two processes never have two writes under way, and each starts at least a second after the previous one ended', async () => {
    const id = `writes-${Date.now()}`;
    const options = { requests: 1, perMs: 1000, maxInFlight: 1, inFlightTtlMs: 5000 };
    const pacers = [processPacer(options, id, store), processPacer(options, id, store)];
    const spans: Array<{ start: number; end: number }> = [];
    const write = async () => {
      const start = Date.now();
      // A write GitHub takes longer than the spacing to answer: the next must still wait for it.
      await new Promise((r) => setTimeout(r, spans.length === 0 ? 1300 : 30));
      spans.push({ start, end: Date.now() });
    };
    await Promise.all(pacers.flatMap((p) => [p.schedule(write, 10_000), p.schedule(write, 10_000)]));
    spans.sort((a, b) => a.start - b.start);
    expect(spans).toHaveLength(4);
    for (let i = 1; i < spans.length; i++) expect(spans[i].start - spans[i - 1].end).toBeGreaterThanOrEqual(1000);
  }, 20_000);
});
