import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoalesceState } from '../../src/jobs/coalesce-state.ts';
import { PostgresCoalesceState } from '../../src/jobs/postgres-coalesce-state.ts';
import { coalesceWait } from '../../src/jobs/reconcile-job.ts';
import { RedisCoalesceState } from '../../src/jobs/redis-coalesce-state.ts';
import type { ReconcileJobData } from '../../src/queues/jobs.ts';
import { REDIS_AVAILABLE, REDIS_URL, startHarness, type Harness } from '../support/harness.ts';

/**
 * A pair's syncs coalesce the same way whichever store holds the flags: the leading edge syncs
 * at once, a change inside the window waits for it, a trailing sync waits while the item still
 * changes, and of several processes asking at once exactly one takes the window.
 */
let h: Harness;
const redisClients: Redis[] = [];
const pgClients: postgres.Sql[] = [];
beforeAll(async () => {
  h = await startHarness('coalesce_state', { workers: false });
});
afterAll(async () => {
  for (const c of redisClients) c.disconnect();
  for (const c of pgClients) await c.end({ timeout: 1 });
  await h?.close();
});

/** One process's view of the store: its own connection. */
function processState(store: 'redis' | 'postgres'): CoalesceState {
  if (store === 'postgres') {
    const sql = postgres(h.databaseUrl, { max: 4, onnotice: () => {} });
    pgClients.push(sql);
    return new PostgresCoalesceState(sql, h.redisPrefix);
  }
  const redis = new Redis(REDIS_URL);
  redisClients.push(redis);
  return new RedisCoalesceState(redis, h.redisPrefix);
}

/** Both stores, or PostgreSQL alone on a machine without Redis. */
const STORES = REDIS_AVAILABLE ? (['redis', 'postgres'] as const) : (['postgres'] as const);
const WINDOW_MS = 1_000;
const job = (itemKey: string): ReconcileJobData => ({ connectionId: 'plane-main', itemKey, reason: 'event', readRemote: false });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(STORES)('coalescing state in %s', (store) => {
  it('leading edge at once; a change inside the window waits for it; the trailing sync waits while the item changes', async () => {
    const key = `coalesce/${store}/lead`;
    expect((await h.postEvents({ type: 'item.upserted', item: { key, title: 'one' } })).status).toBe(202);
    const deps = { sql: h.sql, coalesce: processState(store), coalesceMs: WINDOW_MS };
    expect(await coalesceWait(deps, job(key))).toBe(0);
    const second = await coalesceWait(deps, job(key));
    expect(second).toBeGreaterThan(0);
    expect(second).toBeLessThanOrEqual(WINDOW_MS);
    // The window has passed, but the item changed moments ago: the trailing sync waits again.
    await sleep(second + 20);
    expect((await h.postEvents({ type: 'item.upserted', item: { key, title: 'two' } })).status).toBe(202);
    const trailing = await coalesceWait(deps, job(key));
    expect(trailing).toBeGreaterThan(0);
    expect(trailing).toBeLessThanOrEqual(WINDOW_MS);
    // Quiet for a window: the trailing sync runs, and the burst is over.
    await sleep(WINDOW_MS + 50);
    expect(await coalesceWait(deps, job(key))).toBe(0);
    await sleep(WINDOW_MS + 50);
    expect(await coalesceWait(deps, job(key))).toBe(0);
  });

  it('of eight processes asking at once, exactly one takes the window', async () => {
    const states = Array.from({ length: 8 }, () => processState(store));
    const pair = `plane-main:coalesce/${store}/race`;
    const answers = await Promise.all(states.map((s) => s.takeWindow(pair, 2_000)));
    expect(answers.filter((a) => a.taken)).toHaveLength(1);
    // The others join one burst, and all see the window still held.
    const waits = await Promise.all(states.map((s) => s.joinBurst(pair, 8_000)));
    for (const wait of waits) expect(wait).toBeGreaterThan(1_000);
    expect((await states[0]!.takeWindow(pair, 2_000)).burstLeftMs).toBeGreaterThan(6_000);
    await states[1]!.releaseWindow(pair);
    expect((await states[2]!.takeWindow(pair, 2_000)).taken).toBe(true);
  });

  it('an operator sync never waits, and a window of 0 turns coalescing off', async () => {
    const deps = { sql: h.sql, coalesce: processState(store), coalesceMs: WINDOW_MS };
    const key = `coalesce/${store}/operator`;
    expect(await coalesceWait(deps, job(key))).toBe(0);
    expect(await coalesceWait(deps, { ...job(key), reason: 'operator' })).toBe(0);
    expect(await coalesceWait({ ...deps, coalesceMs: 0 }, job(key))).toBe(0);
  });
});
