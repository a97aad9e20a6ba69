import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';

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
