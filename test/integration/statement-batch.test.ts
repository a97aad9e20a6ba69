import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.ts';
import { StatementBatch } from '../../src/support/statement-batch.ts';
import { finishDelivery, startJobDelivery, startJobDeliveryWithPair } from '../../src/jobs/deliveries.ts';
import { loadPair } from '../../src/sync/postgres/pair-statements.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('statement_batch', { workers: false });
});
afterAll(async () => h?.close());

describe('StatementBatch on Postgres', () => {
  it('answers each of 30 concurrent callers with its own row, in far fewer statements', async () => {
    const doubled = new StatementBatch<number, number>(async (inputs) => {
      const rows = await h.sql<{ ord: string; doubled: number }[]>`
        select ord, x * 2 as doubled from unnest(${inputs}::int[]) with ordinality as t(x, ord)`;
      const byOrd = new Map(rows.map((r) => [Number(r.ord), r.doubled]));
      return inputs.map((_, i) => byOrd.get(i + 1)!);
    });
    const inputs = Array.from({ length: 30 }, (_, i) => i * 7);
    const answers = await Promise.all(inputs.map((x) => doubled.run(x)));
    expect(answers).toEqual(inputs.map((x) => x * 2));
    expect(doubled.stats.entries).toBe(30);
    expect(doubled.stats.batches).toBeLessThanOrEqual(4);
  });

  // Also the regression test of the postgres.js row-counter patch (patches/README.md): the batch
  // fails after streaming two rows, and the retries alone reuse that connection.
  it('fails only the caller whose input breaks the statement; its neighbours get their answers', async () => {
    const cast = new StatementBatch<string, number>(async (inputs) => {
      const rows = await h.sql<
        { ord: string; n: number }[]
      >`select ord, x::int as n from unnest(${inputs}::text[]) with ordinality as t(x, ord)`;
      const byOrd = new Map(rows.map((r) => [Number(r.ord), r.n]));
      return inputs.map((_, i) => byOrd.get(i + 1)!);
    });
    const results = await Promise.allSettled(['1', '2', 'not a number', '4'].map((x) => cast.run(x)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual([1, 2, 4]);
    expect(String((results[2] as PromiseRejectedResult).reason.message)).toMatch(/invalid input syntax/);
  });
});

describe('delivery rows of concurrent jobs', () => {
  it('starts 25 jobs together, each with its own row, and a retry appends to its attempt log', async () => {
    const jobs = Array.from({ length: 25 }, (_, i) => ({ id: `batch-${i}`, attemptsMade: 0, name: 'reconcile' }));
    const ids = await Promise.all(
      jobs.map((job, i) => startJobDelivery(h.sql, job, 'reconcile', 'plane-main', `item/${i}`, { reason: 'event' }, `req-${i}`)),
    );
    expect(new Set(ids).size).toBe(25);
    const rows = await h.sql<{ id: string; item_key: string; job_id: string; request_id: string; status: string }[]>`
      select id, item_key, job_id, request_id, status from deliveries where id in ${h.sql(ids)}`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    ids.forEach((id, i) =>
      expect(byId.get(id)).toMatchObject({ item_key: `item/${i}`, job_id: `batch-${i}`, request_id: `req-${i}`, status: 'processing' }),
    );

    // Finish them together with different outcomes; then job 3's second attempt reuses its row.
    await Promise.all(
      ids.map((id, i) =>
        finishDelivery(
          h.sql,
          id,
          i === 3 ? 'retrying' : 'succeeded',
          i === 3 ? { error: 'HTTP 502' } : { outcome: { action: 'updated', n: i } },
        ),
      ),
    );
    const again = await startJobDelivery(
      h.sql,
      { ...jobs[3], attemptsMade: 1 },
      'reconcile',
      'plane-main',
      'item/3',
      { reason: 'event' },
      'req-3',
    );
    expect(again).toBe(ids[3]);
    await finishDelivery(h.sql, again, 'succeeded', { outcome: { action: 'updated' } });

    const [retried] = await h.sql<
      { status: string; attempts: number; attempt_log: { attempt: number; status: string; error: string | null }[] }[]
    >`
      select status, attempts, attempt_log from deliveries where id = ${ids[3]}`;
    expect(retried.status).toBe('succeeded');
    expect(retried.attempts).toBe(2);
    expect(retried.attempt_log.map((a) => [a.attempt, a.status, a.error])).toEqual([
      [1, 'retrying', 'HTTP 502'],
      [2, 'succeeded', null],
    ]);
    const [other] = await h.sql<{ status: string; result: { n: number } }[]>`select status, result from deliveries where id = ${ids[7]}`;
    expect(other).toEqual({ status: 'succeeded', result: { action: 'updated', n: 7 } });
  });
});

describe('loadPair for concurrent passes', () => {
  it('gives each pass its own item and mapping, and nothing for an unknown item', async () => {
    const keys = ['pair/a', 'pair/b', 'pair/c'];
    for (const [i, key] of keys.entries()) {
      await h.sql`insert into items (key, kind, desired, version) values (${key}, 'task', ${h.sql.json({ title: `T${i}` })}, ${i + 1})`;
      await h.sql`insert into mappings (item_key, connection_id, status, remote_key) values (${key}, 'plane-main', 'synced', ${`R-${i}`})`;
    }
    const loaded = await Promise.all([...keys, 'pair/missing'].map((key) => loadPair(h.sql, key, 'plane-main')));
    expect(loaded.slice(0, 3).map((p) => [p.item?.key, p.item?.version, p.item?.desired.title, p.mapping?.remoteKey])).toEqual([
      ['pair/a', 1, 'T0', 'R-0'],
      ['pair/b', 2, 'T1', 'R-1'],
      ['pair/c', 3, 'T2', 'R-2'],
    ]);
    expect(loaded[3]).toMatchObject({ item: null, mapping: null });
    // Another connection's view of the same item: the item, no mapping.
    const elsewhere = await loadPair(h.sql, 'pair/a', 'jira-main');
    expect(elsewhere.item?.key).toBe('pair/a');
    expect(elsewhere.mapping).toBeNull();
  });
});

describe('a reconcile delivery started with its pair load', () => {
  it('gives each of several concurrent jobs its own delivery row and pair, also for an unknown item', async () => {
    const keys = ['start/a', 'start/b'];
    for (const [i, key] of keys.entries()) {
      await h.sql`insert into items (key, kind, desired, version) values (${key}, 'task', ${h.sql.json({ title: `S${i}` })}, ${i + 5})`;
      await h.sql`insert into mappings (item_key, connection_id, status, remote_key) values (${key}, 'plane-main', 'synced', ${`S-${i}`})`;
    }
    const job = (n: number, attemptsMade = 0) => ({ id: `start-${n}`, attemptsMade, name: 'reconcile' });
    const started = await Promise.all(
      [...keys, 'start/missing'].map((key, n) =>
        startJobDeliveryWithPair(h.sql, job(n), 'reconcile', { connectionId: 'plane-main', itemKey: key }, { n }),
      ),
    );
    expect(started.map((s) => [s.pair.item?.key, s.pair.item?.version, s.pair.mapping?.remoteKey])).toEqual([
      ['start/a', 5, 'S-0'],
      ['start/b', 6, 'S-1'],
      [undefined, undefined, undefined],
    ]);
    const rows = await h.sql<{ id: string; item_key: string; status: string; attempts: number }[]>`
      select id, item_key, status, attempts from deliveries where job_id like 'start-%' order by job_id`;
    expect(rows.map((r) => [r.id, r.item_key, r.status])).toEqual(
      started.map((s, n) => [s.deliveryId, [...keys, 'start/missing'][n], 'processing']),
    );

    // A retry of the first job finds its row again and appends an attempt.
    const again = await startJobDeliveryWithPair(h.sql, job(0, 1), 'reconcile', { connectionId: 'plane-main', itemKey: 'start/a' }, {});
    expect(again.deliveryId).toBe(started[0].deliveryId);
    const [row] = await h.sql<{ attempts: number; log: unknown[] }[]>`
      select attempts, attempt_log as log from deliveries where id = ${again.deliveryId}`;
    expect(row.attempts).toBe(2);
    expect(row.log).toHaveLength(2);
  });
});

describe('finishing deliveries', () => {
  it('stores errors and results with quotes, backslashes and other characters as given', async () => {
    const error = `it's a \\ backslash, a "quote", \\' both, a tab\tand ☃ \\u0041 $$ $tag$ ); drop table deliveries; --`;
    const outcome = { note: "l'élan \\n", nested: { list: ['\\', "'", '"'] } };
    const id = await startJobDelivery(
      h.sql,
      { id: 'finish-quoted', attemptsMade: 0, name: 'reconcile' },
      'reconcile',
      'plane-main',
      null,
      {},
    );
    await finishDelivery(h.sql, id, 'failed', { error, outcome });
    const [row] = await h.sql<{ status: string; last_error: string; result: unknown; log: { error: string; status: string }[] }[]>`
      select status, last_error, result, attempt_log as log from deliveries where id = ${id}`;
    expect(row).toMatchObject({ status: 'failed', last_error: error, result: outcome });
    expect(row.log.at(-1)).toMatchObject({ status: 'failed', error });
  });
});
