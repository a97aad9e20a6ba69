import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { sweepOutbox } from '../../src/jobs/outbox-sweep.ts';
import type { FaultSpec } from '../../sandbox/faults.ts';
import { LOCAL_STATES, duplicatedItems, remoteOf, rng } from './support/fault-helpers.ts';

/**
 * Tracker storms (DESIGN 5.2, 5.3, 5.6): runs of 5xx, timeouts, connection resets and 429s from
 * the sandbox. What the tables must show: retries spaced by exponential backoff (BullMQ's, base
 * 200 ms, jitter 0.5: the k-th retry waits 100·2^(k-1) to 200·2^(k-1) ms), a 429 waiting as long
 * as Plane asks without using an attempt and holding back the whole connection, permanent errors
 * failing on the first attempt, and in the end nothing lost and nothing created twice.
 */
const BACKOFF_MS = 200;
const TIMEOUT_MS = 1000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness('faults_storms', {
    // No coalescing window, so the gaps between attempts are BullMQ's backoff alone.
    config: {
      worker: {
        concurrency: 8,
        attempts: 6,
        backoff: `${BACKOFF_MS}ms`,
        request_timeout: `${TIMEOUT_MS}ms`,
        lock_duration: '5s',
        coalesce_window: '0',
      },
    },
  });
});
afterAll(async () => h?.close());
beforeEach(() => h.sandbox.faults.clear());

const upsert = (key: string, item: Record<string, unknown>) => h.postEvents({ type: 'item.upserted', item: { key, ...item } });

async function version(key: string): Promise<number> {
  const [row] = await h.sql<{ version: string }[]>`select version from items where key = ${key}`;
  return Number(row.version);
}

async function synced(key: string, timeoutMs = 20_000) {
  const want = await version(key);
  return waitFor(
    () =>
      h.sql`select 1 from mappings where item_key = ${key} and status = 'synced' and synced_version >= ${want}`.then((r) => r.length > 0),
    timeoutMs,
  );
}

/** The newest reconcile delivery of an item (one row per job, its attempts counted on it). */
async function lastReconcile(key: string) {
  const [row] = await h.sql<{ id: string; attempts: number; status: string; last_error: string | null }[]>`
    select id, attempts, status, last_error from deliveries where kind = 'reconcile' and item_key = ${key} order by created_at desc limit 1`;
  return row;
}

interface Call {
  method: string;
  path: string;
  status: number | null;
  error: string | null;
  at: Date;
  duration_ms: number;
}

/** The tracker calls of a delivery, once the buffered call log has written `count` of them. */
async function callsOf(deliveryId: string, method: string, count: number): Promise<Call[]> {
  return waitFor(async () => {
    const rows = await h.sql<Call[]>`select method, path, status, error, at, duration_ms from tracker_calls
      where delivery_id = ${deliveryId} and method = ${method} order by at, id`;
    return rows.length >= count ? rows : null;
  }, 5_000);
}

const gaps = (calls: Call[]) => calls.slice(1).map((c, i) => c.at.getTime() - (calls[i]!.at.getTime() + calls[i]!.duration_ms));

async function issueId(key: string): Promise<string> {
  const [row] = await h.sql<{ remote_id: string }[]>`select remote_id from mappings where item_key = ${key}`;
  return row.remote_id;
}

describe('retryable failures back off and succeed', () => {
  it('a run of 5xx: one attempt per failure, spaced exponentially, then the update lands', async () => {
    await upsert('storm/5xx', { title: 'five hundreds', state: 'planned' });
    await synced('storm/5xx');
    const id = await issueId('storm/5xx');
    for (const status of [500, 502, 503])
      h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', pathIncludes: id, status, times: 1 });
    await upsert('storm/5xx', { state: 'done' });
    await synced('storm/5xx');
    expect(remoteOf(h, 'storm/5xx')?.state).toBe('done');

    const delivery = await lastReconcile('storm/5xx');
    expect(delivery).toMatchObject({ attempts: 4, status: 'succeeded' });
    const calls = await callsOf(delivery.id, 'PATCH', 4);
    expect(calls.map((c) => c.status)).toEqual([500, 502, 503, 200]);
    // The k-th retry waited at least the jittered minimum of base·2^(k-1), and the waits grew: the
    // third is at least 400 ms, the first at most 200 ms plus bookkeeping.
    const waited = gaps(calls);
    waited.forEach((ms, k) => expect(ms, `wait before retry ${k + 1}: ${waited}`).toBeGreaterThanOrEqual((BACKOFF_MS / 2) * 2 ** k - 5));
    expect(waited[2]!, `${waited}`).toBeGreaterThan(waited[0]! * 1.5);
  });

  it('timeouts: the call is abandoned at request_timeout and retried with backoff', async () => {
    await upsert('storm/timeout', { title: 'slow', state: 'planned' });
    await synced('storm/timeout');
    const id = await issueId('storm/timeout');
    h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', pathIncludes: id, timeoutMs: 5_000, times: 2 });
    await upsert('storm/timeout', { state: 'doing' });
    await synced('storm/timeout');
    expect(remoteOf(h, 'storm/timeout')?.state).toBe('doing');
    const delivery = await lastReconcile('storm/timeout');
    expect(delivery.attempts).toBe(3);
    const calls = await callsOf(delivery.id, 'PATCH', 3);
    expect(calls.map((c) => c.status)).toEqual([null, null, 200]);
    expect(calls[0]!.error).toContain(`no answer within ${TIMEOUT_MS} ms`);
    // Abandoned at the timeout, not later: the client does not hang on a tracker that does not answer.
    for (const c of calls.slice(0, 2)) expect(c.duration_ms).toBeLessThan(TIMEOUT_MS + 500);
    gaps(calls).forEach((ms, k) => expect(ms).toBeGreaterThanOrEqual((BACKOFF_MS / 2) * 2 ** k - 5));
  });

  it('connection resets on create: retried, and exactly one issue exists', async () => {
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', reset: true, times: 2 });
    await upsert('storm/reset', { title: 'reset twice', state: 'doing' });
    await synced('storm/reset');
    const delivery = await lastReconcile('storm/reset');
    expect(delivery.attempts).toBe(3);
    const posts = await callsOf(delivery.id, 'POST', 3);
    expect(posts.map((c) => c.status)).toEqual([null, null, 201]);
    expect(posts[0]!.error).toMatch(/network error/);
    expect(h.sandbox.plane.issuesOf(h.project.projectId).filter((i) => i.external_id === 'storm/reset')).toHaveLength(1);
  });

  it('a create that reached Plane but whose answer timed out is adopted on retry, not repeated', async () => {
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', delayAfterMs: 3_000, times: 1 });
    await upsert('storm/lost-answer', { title: 'answer lost', state: 'planned', labels: ['x'] });
    await synced('storm/lost-answer');
    expect(h.sandbox.plane.issuesOf(h.project.projectId).filter((i) => i.external_id === 'storm/lost-answer')).toHaveLength(1);
    const delivery = await lastReconcile('storm/lost-answer');
    expect(delivery.attempts).toBe(2);
    const trail = await h.sql<
      { action: string }[]
    >`select action from activity where item_key = 'storm/lost-answer' and actor = 'sync:plane-main'`;
    expect(trail.map((r) => r.action)).toContain('remote.recovered');
  });
});

describe('429s', () => {
  it('wait as long as Plane asks, use no attempt, and hold back the whole connection meanwhile', async () => {
    const keys = ['storm/429', ...Array.from({ length: 5 }, (_, i) => `storm/429-other-${i}`)];
    await h.postEvents({ events: keys.map((key) => ({ type: 'item.upserted', item: { key, title: key, state: 'planned' } })) });
    for (const key of keys) await synced(key);
    const id = await issueId('storm/429');
    h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', pathIncludes: id, status: 429, retryAfter: 1, times: 2 });
    await upsert('storm/429', { state: 'done' });
    // Other items want calls while the connection is paused.
    await waitFor(() => h.sandbox.log.entries({ tracker: 'plane', status: 429 }).length >= 1, 5_000);
    await h.postEvents({ events: keys.slice(1).map((key) => ({ type: 'item.upserted', item: { key, state: 'doing' } })) });
    for (const key of keys) await synced(key);

    const delivery = await lastReconcile('storm/429');
    // Two 429s and a success, yet still the first attempt: rate limits do not count as failures.
    expect(delivery.attempts).toBe(1);
    const calls = await callsOf(delivery.id, 'PATCH', 3);
    expect(calls.map((c) => c.status)).toEqual([429, 429, 200]);
    // Each retry came no sooner than the Retry-After (1 s) after the 429 was answered.
    for (const gap of gaps(calls)) expect(gap).toBeGreaterThanOrEqual(1000 - 20);
    // And no other call of the connection started inside a pause.
    const all = await h.sql<
      Call[]
    >`select method, path, status, error, at, duration_ms from tracker_calls where connection_id = 'plane-main' order by at`;
    for (const limited of calls.filter((c) => c.status === 429)) {
      const pausedFrom = limited.at.getTime() + limited.duration_ms + 20;
      const pausedTo = limited.at.getTime() + limited.duration_ms + 1000 - 20;
      const inside = all.filter((c) => c.at.getTime() > pausedFrom && c.at.getTime() < pausedTo);
      expect(inside, 'calls made while the connection was paused').toEqual([]);
    }
    expect(keys.slice(1).every((key) => remoteOf(h, key)?.state === 'doing')).toBe(true);
  });
});

describe('permanent errors fail fast', () => {
  it('a 404 on update fails on the first attempt, says why, and the sweep does not retry that version', async () => {
    await upsert('storm/404', { title: 'gone', state: 'planned' });
    await synced('storm/404');
    const id = await issueId('storm/404');
    h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', pathIncludes: id, status: 404, times: 1 });
    await upsert('storm/404', { state: 'done' });
    const mapping = await waitFor(
      () => h.sql`select status, last_error from mappings where item_key = 'storm/404' and status = 'error'`.then((r) => r[0]),
      10_000,
    );
    expect(mapping.last_error).toMatch(/404/);
    const delivery = await lastReconcile('storm/404');
    expect(delivery).toMatchObject({ attempts: 1, status: 'failed' });
    expect(await callsOf(delivery.id, 'PATCH', 1)).toHaveLength(1);
    // The outbox sweep leaves a version that failed for good alone (an operator retries it).
    await waitSettledExcept(['storm/404']);
    expect(await sweepOutbox(h.sql, h.runtime.queues, { callbacks: false, graceSeconds: 0 })).toBe(0);
  });

  it('a 422 on create fails on the first attempt and creates nothing', async () => {
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', status: 422, times: 1 });
    await upsert('storm/422', { title: 'refused', state: 'planned' });
    await waitFor(() => h.sql`select 1 from mappings where item_key = 'storm/422' and status = 'error'`.then((r) => r.length > 0), 10_000);
    const delivery = await lastReconcile('storm/422');
    expect(delivery).toMatchObject({ attempts: 1, status: 'failed' });
    expect(await callsOf(delivery.id, 'POST', 1)).toHaveLength(1);
    expect(h.sandbox.plane.issuesOf(h.project.projectId).filter((i) => i.external_id === 'storm/422')).toHaveLength(0);
  });
});

async function waitSettledExcept(failed: string[]) {
  await waitFor(async () => {
    const [row] = await h.sql<{ n: number }[]>`select count(*)::int as n from mappings m join items i on i.key = m.item_key
      where m.item_key <> all(${failed}) and (m.synced_version < i.version or m.status <> 'synced' or m.remote_changed_at is not null)`;
    return row.n === 0;
  }, 20_000);
}

describe('a mixed storm over 30 items', () => {
  it('every item ends synced with its last values, none created twice', async () => {
    const r = rng(4242);
    const keys = Array.from({ length: 30 }, (_, i) => `storm/mixed-${i}`);
    // Half the items exist before the storm, half are created during it.
    await h.postEvents({
      events: keys.slice(0, 15).map((key) => ({ type: 'item.upserted', item: { key, title: key, state: 'planned' } })),
    });
    await waitSettledExcept(['storm/404', 'storm/422']);
    const kinds: Array<() => Omit<FaultSpec, 'tracker' | 'times'>> = [
      () => ({ status: r.pick([500, 502, 503, 504]) }),
      () => ({ timeoutMs: 3_000 }),
      () => ({ reset: true }),
      () => ({ status: 429, retryAfter: 1 }),
      () => ({ delayAfterMs: 2_000 }),
    ];
    for (let i = 0; i < 40; i++) h.sandbox.faults.inject({ tracker: 'plane', ...r.pick(kinds)(), times: 1 });
    const want = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      const events = keys.map((key) => {
        const state = r.pick(LOCAL_STATES);
        want.set(key, state);
        return { type: 'item.upserted', item: { key, title: key, state } };
      });
      expect((await h.postEvents({ events })).status).toBe(202);
      await new Promise((res) => setTimeout(res, 300));
    }
    await waitSettledExcept(['storm/404', 'storm/422']);
    expect(h.sandbox.faults.pending()).toEqual([]);
    // A write of `done` that landed though its answer was lost (a timeout, a delayed answer) closed
    // the issue; the item's later move back to an open state is then a re-open, which the state
    // guard holds for a decision (reopen = "ask", the default): an open conflict, not a lost
    // update. Every other item ends in its last state.
    const openStates = await h.sql<{ item_key: string; reason: string }[]>`
      select item_key, reason from conflicts where field = 'state' and status = 'open' and item_key like 'storm/mixed-%'`;
    const heldForReopen = new Set(openStates.filter((c) => c.reason.includes('reopen = "ask"')).map((c) => c.item_key));
    for (const key of heldForReopen) {
      expect(remoteOf(h, key)?.state, key).toBe('done');
      expect(want.get(key), key).not.toBe('done');
    }
    const wrong = keys.filter((key) => !heldForReopen.has(key) && remoteOf(h, key)?.state !== want.get(key));
    expect(wrong).toEqual([]);
    expect(duplicatedItems(h)).toEqual([]);
    // Nothing failed for good: every failure was retryable and retried.
    const [failed] = await h.sql<
      { n: number }[]
    >`select count(*)::int as n from deliveries where kind = 'reconcile' and status = 'failed' and item_key like 'storm/mixed-%'`;
    expect(failed.n).toBe(0);
    console.log(`[storm] ${h.sandbox.faults.served} faults served in total`);
  }, 90_000);
});
