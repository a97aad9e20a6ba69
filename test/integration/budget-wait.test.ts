import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * A pair whose tracker budget is used up waits for the window, not longer, and says so: the item
 * view shows "waiting for the tracker's budget until …" while its job stands aside.
 */
let h: Harness;
const BUDGET = { requests: 6, per: '10s' };
beforeAll(async () => {
  h = await startHarness('budget_wait', { plane: { rate_limit: BUDGET } });
  h.sandbox.rateLimit.configure({ requests: BUDGET.requests, perMs: 10_000 });
});
afterAll(async () => h?.close());

type ItemView = { connections: Array<{ connection: string; status: string; lastError: string | null }> };

describe('an exhausted budget', () => {
  it('the item view says until when the pair waits, and it syncs once the window has room, without a 429', async () => {
    // The worker's catalog warming took 4 calls of the 6; five creates need five more.
    await waitFor(() => h.sandbox.log.entries({ tracker: 'plane' }).length >= 4, 10_000);
    const keys = Array.from({ length: 5 }, (_, i) => `budget/${i}`);
    await h.postEvents({ events: keys.map((key) => ({ type: 'item.upserted', item: { key, title: key } })) });
    const waiting = await waitFor(
      async () => {
        for (const key of keys) {
          const view = (await (await h.api('GET', `/v1/items/${encodeURIComponent(key)}`)).json()) as ItemView;
          const pair = view.connections.find((c) => c.connection === 'plane-main');
          if (pair?.status === 'waiting') return { key, pair };
        }
        return null;
      },
      10_000,
      100,
    );
    const until = /waiting for the tracker's budget until (\S+Z)/.exec(waiting.pair.lastError ?? '')?.[1];
    expect(until, waiting.pair.lastError ?? '').toBeTruthy();
    // Until the oldest call of the window leaves it: at most the window from now.
    expect(Date.parse(until!) - Date.now()).toBeLessThanOrEqual(10_100);
    await waitFor(
      () =>
        h.sql`select count(*)::int as n from mappings where item_key like 'budget/%' and status = 'synced'`.then(
          (r) => r[0].n === keys.length,
        ),
      30_000,
    );
    const view = (await (await h.api('GET', `/v1/items/${encodeURIComponent(waiting.key)}`)).json()) as ItemView;
    expect(view.connections[0]).toMatchObject({ status: 'synced', lastError: null });
    expect(h.sandbox.rateLimit.served429).toBe(0);
  }, 45_000);
});
