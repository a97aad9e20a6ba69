import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { openDatabase } from '../../src/db/client.ts';
import { isRetryableStorageError } from '../../src/support/storage-errors.ts';

let h: Harness;
let locker: postgres.Sql;
beforeAll(async () => {
  h = await startHarness('statement_timeout', {
    concurrency: 1,
    config: {
      database: { statement_timeout: '400ms' },
      worker: { concurrency: 1, attempts: 30, backoff: '100ms', request_timeout: '2s', lock_duration: '3s', coalesce_window: '0' },
    },
  });
  locker = postgres(h.databaseUrl, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await locker?.end({ timeout: 2 });
  await h?.close();
});

const synced = (key: string, timeoutMs = 10_000) =>
  waitFor(
    () =>
      h.sql`select 1 from mappings m join items i on i.key = m.item_key where m.item_key = ${key} and m.status = 'synced' and m.synced_version >= i.version`.then(
        (r) => r.length > 0,
      ),
    timeoutMs,
  );

/** Holds a lock in a transaction of its own until `release` is called. */
async function holdLock(statement: string) {
  const reserved = await locker.reserve();
  await reserved`begin`;
  await reserved.unsafe(statement);
  return async () => {
    await reserved`commit`;
    reserved.release();
  };
}

describe('statement timeout', () => {
  it('every pooled query carries it: one stuck behind a lock fails with a retryable error', async () => {
    const db = openDatabase(h.databaseUrl, { max: 1, statementTimeoutMs: 200 });
    const release = await holdLock('lock table items in access exclusive mode');
    try {
      const started = Date.now();
      const error = await db.sql`select count(*) from items`.catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('57014');
      expect(isRetryableStorageError(error)).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await db.sql`show statement_timeout`)[0].statement_timeout).toBe('200ms');
    } finally {
      await release();
      await db.close();
    }
    // Without the option, nothing is set on the connection (the server default, 0 here).
    const plain = openDatabase(h.databaseUrl, { max: 1 });
    expect((await plain.sql`show statement_timeout`)[0].statement_timeout).toBe('0');
    await plain.close();
  });

  it('a reconcile stuck on a locked row fails its attempt and frees the worker; it syncs once the lock goes', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'stuck/1', title: 'Stuck', state: 'planned' } });
    await synced('stuck/1');
    await h.workers!.close();
    await h.postEvents({ type: 'item.upserted', item: { key: 'stuck/1', state: 'doing' } });
    const release = await holdLock(`select 1 from mappings where item_key = 'stuck/1' for update`);
    try {
      await h.startWorkers(1);
      // The one worker slot is not held by the stuck job: its attempt fails (and is retried)...
      const failed = await waitFor(async () => {
        const jobs = await h.runtime.queues.reconcile.getJobs(['delayed', 'wait', 'active', 'failed', 'prioritized']);
        return jobs.find((j) => j.data.itemKey === 'stuck/1' && j.attemptsMade > 0 && /statement timeout/.test(j.failedReason ?? ''));
      }, 10_000);
      expect(failed.failedReason).toMatch(/canceling statement due to statement timeout/);
      // ...and another item's sync goes through while the lock is still held.
      await h.postEvents({ type: 'item.upserted', item: { key: 'free/1', title: 'Not stuck' } });
      await synced('free/1');
      expect((await h.sql`select synced_version from mappings where item_key = 'stuck/1'`)[0].synced_version).toBe('1');
    } finally {
      await release();
    }
    await synced('stuck/1');
    const issue = h.sandbox.plane.issuesOf(h.project.projectId).find((i) => i.external_id === 'stuck/1')!;
    expect(h.sandbox.plane.statesOf(h.project.projectId).find((s) => s.id === issue.state)?.name).toBe('In Progress');
  }, 40_000);
});
