import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TOKEN, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { spawnTrackline, type Child } from '../support/child-process.ts';
import { freePort } from './support/servers.ts';
import {
  LOCAL_STATES,
  duplicatedItems,
  issuesByItem,
  label,
  remoteFields,
  rng,
  waitSettled,
  type Fields,
} from './support/fault-helpers.ts';

/**
 * Scaled out (DESIGN 2 and 5.2, 5.3, 5.6): two `trackline api` and three `trackline worker`
 * processes on one Redis and one Postgres, as separate OS processes with one config file. Events
 * go to both apis; the three workers share the connection's budget through Redis. Plane allows
 * 10 requests per 5 s per key and the connection is configured with the same budget, so the
 * workers together must stay inside it by their own pacing: not one 429.
 */
const ITEMS = 24;
const BUDGET = { requests: 10, perMs: 5_000 };

let h: Harness;
const children: Child[] = [];
const apis: string[] = [];

beforeAll(async () => {
  h = await startHarness('faults_scale', {
    workers: false,
    plane: { rate_limit: { requests: BUDGET.requests, per: `${BUDGET.perMs / 1000}s` } },
    config: {
      worker: { concurrency: 8, attempts: 8, backoff: '500ms', request_timeout: '5s', lock_duration: '10s', coalesce_window: '500ms' },
    },
  });
  h.sandbox.rateLimit.configure(BUDGET);
  for (const name of ['a', 'b', 'c']) label(h, name);
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    children.push(spawnTrackline(h, ['api', '--port', String(port)], { HOST: '127.0.0.1' }));
    apis.push(`http://127.0.0.1:${port}`);
  }
  // Debug logs: each tracker call is a line, so the test can tell which worker made it.
  for (let i = 0; i < 3; i++) children.push(spawnTrackline(h, ['worker'], { LOG_LEVEL: 'debug' }));
  for (const api of apis)
    await waitFor(
      () =>
        fetch(`${api}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      30_000,
      200,
    );
}, 60_000);

afterAll(async () => {
  // SIGTERM: each process finishes its jobs and closes; SIGKILL after a grace period.
  await Promise.all(
    children.map(async (c) => {
      if (c.process.exitCode !== null || c.process.signalCode !== null) return;
      c.process.kill('SIGTERM');
      const timer = setTimeout(() => c.process.kill('SIGKILL'), 15_000);
      await c.exited;
      clearTimeout(timer);
    }),
  );
  await h?.close();
}, 60_000);

async function post(api: string, events: unknown[]) {
  const res = await fetch(`${api}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  expect(res.status, await res.clone().text()).toBe(202);
}

describe('2 api and 3 worker processes on one Redis and Postgres', () => {
  it('create each issue once, end in the last state, and share the rate budget: zero 429s', async () => {
    const r = rng(77);
    const expected = new Map<string, Required<Fields>>();
    const upsert = (key: string, fields: Fields) => {
      expected.set(key, {
        ...(expected.get(key) ?? { title: '', state: '', labels: [] }),
        ...fields,
        ...(fields.labels ? { labels: [...fields.labels].sort() } : {}),
      } as Required<Fields>);
      return { type: 'item.upserted', item: { key, ...fields } };
    };
    const keys = Array.from({ length: ITEMS }, (_, i) => `scale/${i}`);
    let n = 0;
    // Round 1 creates everything; round 2 follows at once, while most creates are still queued
    // behind the budget (a change arriving mid-sync must not be lost); round 3 comes later.
    for (let i = 0; i < keys.length; i += 4) {
      await post(
        apis[n++ % 2]!,
        keys.slice(i, i + 4).map((key) => upsert(key, { title: `${key} created`, state: 'planned', labels: r.subset(['a', 'b', 'c']) })),
      );
    }
    for (let i = 0; i < keys.length; i += 3) {
      await post(
        apis[n++ % 2]!,
        keys.slice(i, i + 3).map((key) => upsert(key, { state: r.pick(LOCAL_STATES) })),
      );
    }
    await new Promise((res) => setTimeout(res, 3_000));
    await post(
      apis[n++ % 2]!,
      keys.filter(() => r.next() < 0.5).map((key) => upsert(key, { title: `${key} renamed`, labels: r.subset(['a', 'b', 'c']) })),
    );

    try {
      await waitSettled(h, 150_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${children.map((c, i) => `--- process ${i}\n${c.output().slice(-1500)}`).join('\n')}`);
    }

    // Exactly one issue per item, each in its last state.
    expect(duplicatedItems(h)).toEqual([]);
    const byItem = issuesByItem(h);
    const wrong = keys.filter(
      (key) => JSON.stringify(byItem.get(key)?.[0] ? remoteFields(h, byItem.get(key)![0]!) : null) !== JSON.stringify(expected.get(key)),
    );
    expect(
      wrong.map((key) => ({ key, want: expected.get(key), got: byItem.get(key)?.[0] && remoteFields(h, byItem.get(key)![0]!) })),
    ).toEqual([]);

    // The budget was shared: not one 429, and never more than 10 calls in any 5 s, measured where
    // Plane measures it.
    const calls = h.sandbox.log.entries({ tracker: 'plane' });
    expect(h.sandbox.rateLimit.served429).toBe(0);
    expect(calls.filter((c) => c.status === 429)).toEqual([]);
    const times = calls.map((c) => Date.parse(c.at)).sort((a, b) => a - b);
    const busiest = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + BUDGET.perMs).length));
    expect(busiest).toBeLessThanOrEqual(BUDGET.requests);
    // And it was shared by several workers: each worker process made tracker calls of its own.
    const perWorker = children.slice(2).map((c) => (c.output().match(/"msg":"tracker call"/g) ?? []).length);
    console.log(
      `[scale-out] ${calls.length} Plane calls over ${Math.round((times.at(-1)! - times[0]!) / 1000)} s, busiest 5 s window ${busiest}, calls per worker ${perWorker.join('/')}`,
    );
    expect(perWorker.filter((count) => count > 0).length).toBeGreaterThanOrEqual(2);
    // Every request the two apis accepted was recorded once.
    const [recorded] = await h.sql<{ n: number }[]>`select count(distinct request_id)::int as n from deliveries where kind = 'event'`;
    expect(recorded.n).toBe(n);
  }, 240_000);
});
