import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { REDIS_AVAILABLE, REDIS_URL, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { Pacer, type PacerOptions } from '../../src/pacing/pacer.ts';
import { WindowGate } from '../../src/pacing/window-gate.ts';
import { RateLimitedError } from '../../src/pacing/rate-limited-error.ts';
import { RedisPacingStore } from '../../src/pacing/redis-pacing-store.ts';
import { PostgresPacingStore } from '../../src/pacing/postgres-pacing-store.ts';
import type { PacingStore } from '../../src/pacing/pacing-store.ts';

/**
 * Issue 17, section 1: queued GitHub mutations (one at a time, a second apart) waited in worker
 * slots for up to a minute, because the store's wait estimate counted at most one window for the
 * calls queued ahead, so a call 60 places back was told "one second" and never stepped aside.
 * Each store is tested (Redis's script, PostgreSQL's function from migration 0011).
 */

let h: Harness;
const clients: Redis[] = [];
const pgClients: postgres.Sql[] = [];
beforeAll(async () => {
  // GitHub with real pacing (a primary budget high enough not to matter): its writes go one at a
  // time, a second apart, and the workers run 16 reconciles at once.
  h = await startHarness('pacing_queue', { plane: false, github: { rate_limit: { requests: 100_000, per: '1h' } }, concurrency: 16 });
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const c of pgClients) await c.end({ timeout: 1 });
  await h?.close();
});

type Store = 'redis' | 'postgres';
let sequence = 0;

/** The store as one worker process has it: its own connection. */
function storeOf(store: Store): PacingStore {
  if (store === 'postgres') {
    const sql = postgres(h.databaseUrl, { max: 2, onnotice: () => {} });
    pgClients.push(sql);
    return new PostgresPacingStore(sql);
  }
  const client = new Redis(REDIS_URL);
  clients.push(client);
  return new RedisPacingStore(client);
}

/** GitHub's mutation pacing as the adapter sets it up (github/transport.ts), over a 1 s window. */
const MUTATIONS: Omit<PacerOptions, 'id'> = { requests: 1, perMs: 1000, maxInFlight: 1, inFlightTtlMs: 5000 };

// Without a Redis (a bare machine, PostgreSQL alone) only the PostgreSQL store is there to test.
describe.each<Store>(REDIS_AVAILABLE ? ['redis', 'postgres'] : ['postgres'])('calls queued ahead, shared in %s', (store) => {
  it('the wait estimate adds a window for every `limit` calls queued ahead, not one window at most', async () => {
    const one = new WindowGate(storeOf(store), `${h.redisPrefix}:q:${store}:${++sequence}`, [{ limit: 1, perMs: 1000 }]);
    // Timed from before the event is recorded: what has passed since is at most `elapsed`.
    const started = Date.now();
    await one.acquire('calls');
    // One event in the window: the next call waits for it to leave, each further one a second more.
    for (const ahead of [0, 1, 3, 7, 59]) {
      const wait = await one.estimateWait('calls', ahead);
      const elapsed = Date.now() - started;
      expect(wait, `${ahead} ahead`).toBeGreaterThanOrEqual(ahead * 1000 + 1000 - elapsed - 20);
      expect(wait, `${ahead} ahead`).toBeLessThanOrEqual((ahead + 1) * 1000);
    }

    // Two a second, both used: the 6th call after them goes out once the 4 before it have, two
    // windows on, plus what is left of the second event's window.
    const two = new WindowGate(storeOf(store), `${h.redisPrefix}:q:${store}:${++sequence}`, [{ limit: 2, perMs: 1000 }]);
    await two.acquire('calls');
    const second = Date.now();
    await two.acquire('calls');
    const wait = await two.estimateWait('calls', 5);
    expect(wait).toBeGreaterThanOrEqual(3000 - (Date.now() - second) - 20);
    expect(wait).toBeLessThanOrEqual(3000);
    // Room left in the window: no wait.
    const free = new WindowGate(storeOf(store), `${h.redisPrefix}:q:${store}:${++sequence}`, [{ limit: 3, perMs: 1000 }]);
    await free.acquire('calls');
    expect(await free.estimateWait('calls', 1)).toBe(0);
  });

  it('mutations queued across two processes: a call whose wait is over 5 s steps aside at once with that wait, none holds its slot longer', async () => {
    const id = `mut-${store}-${++sequence}`;
    const pacers = [
      new Pacer(storeOf(store), { ...MUTATIONS, id }, h.redisPrefix),
      new Pacer(storeOf(store), { ...MUTATIONS, id }, h.redisPrefix),
    ];
    const sent: number[] = [];
    const outcomes: Array<{ process: number; place: number; heldMs: number; stepped?: number }> = [];
    // Ten jobs of one process and three of another each make one write at once (a job per slot).
    const calls = pacers.flatMap((pacer, process) =>
      Array.from({ length: process === 0 ? 10 : 3 }, async (_, place) => {
        const asked = Date.now();
        try {
          await pacer.schedule(async () => {
            outcomes.push({ process, place, heldMs: Date.now() - asked });
            sent.push(Date.now());
            await new Promise((r) => setTimeout(r, 20));
          });
        } catch (error) {
          if (!(error instanceof RateLimitedError)) throw error;
          outcomes.push({ process, place, heldMs: Date.now() - asked, stepped: error.waitMs });
        }
      }),
    );
    await Promise.all(calls);
    const stepped = outcomes.filter((o) => o.stepped !== undefined);
    // Thirteen writes at one a second cannot all go within 5 s: the calls far back in the first
    // process's line step aside, at once (told on arrival), with the wait their place means.
    expect(stepped.length, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(3);
    for (const o of stepped) {
      expect(o.stepped!, JSON.stringify(o)).toBeGreaterThan(5000);
      expect(o.heldMs, JSON.stringify(o)).toBeLessThan(1000);
    }
    // The last of ten: at least seven ahead of it (the first may be in the window already), a second each.
    expect(Math.max(...stepped.map((o) => o.stepped!))).toBeGreaterThanOrEqual(7000);
    // A call that waits holds its worker for what its place says (at most 5 s), plus the other
    // process's writes that got in between (its line is not in the store; three writes here).
    for (const o of outcomes) expect(o.heldMs, JSON.stringify(o)).toBeLessThan(5000 + 3 * 1000 + 1500);
    // The writes that went are still a second apart, one at a time.
    sent.sort((a, b) => a - b);
    for (let i = 1; i < sent.length; i++) expect(sent[i] - sent[i - 1]).toBeGreaterThanOrEqual(1000 - 5);
    expect(sent.length + stepped.length).toBe(13);
  }, 30_000);
});

describe('reconcile jobs queued behind GitHub mutations', () => {
  it('a job whose write would wait over 5 s steps aside (delayed, no attempt used) instead of holding its worker; every issue is created once', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `queue/${String(i).padStart(2, '0')}`);
    // Twelve new items at once: twelve issue creates, one write a second, sixteen worker slots.
    await h.postEvents({ events: keys.map((key) => ({ type: 'item.upserted', item: { key, title: key } })) });
    await waitFor(
      () =>
        h.sql`select count(*)::int as n from mappings where item_key like 'queue/%' and status = 'synced' and remote_id is not null`.then(
          (r) => r[0].n === keys.length,
        ),
      60_000,
      200,
    );
    // Each created once.
    const creates = h.sandbox.log
      .entries({ tracker: 'github', method: 'POST' })
      .filter((e) => /\/repos\/[^/]+\/[^/]+\/issues$/.test(e.path));
    expect(creates).toHaveLength(keys.length);
    // A create the pacer held back never left: the resumed job creates at once, without first
    // looking for its issue by the marker (a listing of the budget it had waited for; before,
    // every create that stepped aside paid that extra request).
    const lookups = h.sandbox.log
      .entries({ tracker: 'github', method: 'GET' })
      .filter((e) => /\/repos\/[^/]+\/[^/]+\/issues$/.test(e.path) && e.query?.creator !== undefined);
    expect(lookups).toHaveLength(0);
    // The jobs far back stepped aside, each told when to come back, without using an attempt.
    // Read once every run has ended: a follow-up reconcile of an item (its own write echoed back,
    // slower with the queues in PostgreSQL) may still be running when the last mapping is synced.
    const runs = await waitFor(async () => {
      const rows = await h.sql<
        { item_key: string; attempts: number; log: { status?: string; error?: string; startedAt: string; endedAt?: string }[] }[]
      >`select item_key, attempts, attempt_log as log from deliveries where kind = 'reconcile' and item_key like 'queue/%'`;
      return rows.every((r) => r.log.every((a) => a.endedAt !== undefined)) ? rows : null;
    }, 20_000);
    const waited = runs.filter((r) => r.log.some((a) => a.status === 'waiting'));
    expect(waited.length, JSON.stringify(runs)).toBeGreaterThanOrEqual(3);
    for (const r of waited)
      expect(r.log.find((a) => a.status === 'waiting')!.error).toMatch(/waiting for the tracker's budget until .*used up/);
    expect(runs.every((r) => r.attempts <= 1)).toBe(true);
    // No run of a job held its worker slot waiting much past the 5 s it may wait inline (before
    // the fix the last of twelve held one for about 12 s).
    const held = runs.flatMap((r) => r.log.map((a) => Date.parse(a.endedAt!) - Date.parse(a.startedAt)));
    expect(Math.max(...held), JSON.stringify(runs)).toBeLessThan(5000 + 2500);
  }, 90_000);
});
