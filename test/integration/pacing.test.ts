import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Bottleneck from 'bottleneck';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { Pacer } from '../../src/pacing/pacer.ts';

let h: Harness;
beforeAll(async () => {
  // Real pacing: the connection's budget is 10 requests per 5 s, and so is the sandbox's (a
  // window shaped like Plane's 60 per minute, shortened so the test stays quick).
  h = await startHarness('pacing', { plane: { rate_limit: { requests: 10, per: '5s' } } });
  h.sandbox.rateLimit.configure({ requests: 10, perMs: 5000 });
});
afterAll(async () => h?.close());

describe('pacing from the connection budget', () => {
  it('keeps under the tracker limit by its own spacing: no 429, calls spread over the window', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `paced/${i}`);
    const started = Date.now();
    await h.postEvents({ events: keys.map((key) => ({ type: 'item.upserted', item: { key, title: key } })) });
    await waitFor(() => h.sql`select count(*)::int as n from mappings where status = 'synced'`.then((r) => r[0].n === keys.length), 20_000);
    const calls = h.sandbox.log.entries({ tracker: 'plane' });
    // 4 catalog reads + 6 creates = 10 calls, 500 ms apart: at least ~4.5 s, and never a 429.
    expect(calls.length).toBeGreaterThanOrEqual(10);
    expect(calls.filter((c) => c.status === 429)).toEqual([]);
    expect(h.sandbox.rateLimit.served429).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(((calls.length - 1) * 5000) / 10 - 100);
    // Never more than the budget in any 5 s window, measured where the tracker measures it.
    const times = calls.map((c) => Date.parse(c.at)).sort((a, b) => a - b);
    const busiest = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 5000).length));
    expect(busiest).toBeLessThanOrEqual(10);
  }, 30_000);
});

describe('a call that goes out late', () => {
  it('is held so the calls actually sent never exceed the budget in any window (a busy event loop cannot tip it over)', async () => {
    const pacer = new Pacer(
      h.runtime.producerRedis,
      new Bottleneck.IORedisConnection({ client: h.runtime.producerRedis.duplicate({ lazyConnect: false }) }),
      { id: `late-${Date.now()}`, requests: 10, perMs: 1000 },
      h.redisPrefix,
    );
    try {
      const sentAt: number[] = [];
      const started = Date.now();
      const calls = Array.from({ length: 12 }, () => pacer.schedule(async () => void sentAt.push(Date.now())));
      // The second call's slot is at ~104 ms; the event loop is busy from 50 to 200 ms, so that call
      // goes out ~100 ms late while the ones after it keep their slots.
      await new Promise((r) => setTimeout(r, 50 - (Date.now() - started)));
      const until = Date.now() + 150;
      while (Date.now() < until) {
        /* a long synchronous task */
      }
      await Promise.all(calls);
      sentAt.sort((a, b) => a - b);
      for (let i = 0; i + 10 < sentAt.length; i++) expect(sentAt[i + 10] - sentAt[i]).toBeGreaterThanOrEqual(1000);
      // Spacing alone would have sent the 12th call within 1 s of the late one: the send-time check held it.
      expect(pacer.stats.heldMs).toBeGreaterThan(0);
    } finally {
      await pacer.close();
    }
  }, 20_000);

  it('counts from its answer: a process whose first request takes 80 ms to leave (cold) does not let the eleventh through early', async () => {
    // Two pacers for one credential: two worker processes sharing the budget through Redis.
    const id = `slow-${Date.now()}`;
    const pacers = [0, 1].map(
      () =>
        new Pacer(
          h.runtime.producerRedis,
          new Bottleneck.IORedisConnection({ client: h.runtime.producerRedis.duplicate({ lazyConnect: false }) }),
          { id, requests: 10, perMs: 1000 },
          h.redisPrefix,
        ),
    );
    try {
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
    } finally {
      await Promise.all(pacers.map((p) => p.close()));
    }
  }, 20_000);
});
