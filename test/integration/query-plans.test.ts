import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { EventBatcher } from '../../src/intake/event-batcher.ts';
import { finishDelivery, startJobDelivery } from '../../src/jobs/deliveries.ts';

/**
 * A connection keeps a generic plan for a prepared statement after five runs. Made while a table
 * was small, such a plan joins a batch against the table by reading all of it, and Postgres keeps
 * it until the next ANALYZE. These tests run statements many times on a tiny table, grow the table
 * with no ANALYZE (autovacuum off), and count the rows sequential scans read afterwards.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness('query_plans', { workers: false });
});
afterAll(async () => h?.close());

/**
 * Rows of `table` read by sequential scans, rows fetched through its indexes, and rows updated, as
 * the backends have reported them.
 */
async function counters(table: string): Promise<{ scanned: number; fetched: number; updated: number }> {
  const [row] = await h.sql<{ scanned: number; fetched: number; updated: number }[]>`
    select coalesce(seq_tup_read, 0)::int as scanned, coalesce(idx_tup_fetch, 0)::int as fetched, coalesce(n_tup_upd, 0)::int as updated
    from pg_stat_user_tables where relname = ${table}`;
  return row;
}

/** Backends report their counters some seconds after going idle: wait until `updates` show. */
async function reported(table: string, updates: number) {
  return waitFor(
    async () => {
      const now = await counters(table);
      return now.updated >= updates ? now : null;
    },
    20_000,
    250,
  );
}

describe('batched statements on tables that grew after they were first planned', () => {
  it('event batches look items up by key, not by reading the whole table', async () => {
    await h.sql`alter table items set (autovacuum_enabled = false)`;
    const batcher = new EventBatcher(h.sql, h.runtime.connections, h.runtime.queues, h.runtime.log);
    const upsert = (key: string) => ({
      events: [{ type: 'item.upserted' as const, item: { key, kind: 'work_package', title: `Item ${key}`, state: 'doing' } }],
      request: { events: 1 },
    });
    // Enough runs for every pooled connection to pass five while items is tiny.
    for (let i = 0; i < 80; i++) await batcher.accept(upsert(`plans/small/${i}`));
    await h.sql`insert into items (key, version) select 'plans/bulk/' || g, 1 from generate_series(1, 20000) g`;
    await h.sql`select pg_stat_reset_single_table_counters('items'::regclass)`;

    for (let i = 0; i < 20; i++) await batcher.accept(upsert(`plans/large/${i}`));
    const { scanned, fetched } = await reported('items', 20);
    // Twenty batches that each read the table would have read 400,000 rows (405,035 when it did),
    // by a sequential scan or by walking a whole index.
    expect(scanned).toBeLessThan(20_000);
    expect(fetched).toBeLessThan(20_000);
  });

  it('finishing job deliveries finds each row by id, not by reading the whole table', async () => {
    await h.sql`alter table deliveries set (autovacuum_enabled = false)`;
    const job = (n: number) => ({ id: `plans-${n}`, attemptsMade: 0, name: 'reconcile' });
    const run = async (n: number) => {
      const id = await startJobDelivery(h.sql, job(n), 'reconcile', 'plane-main', `plans/item/${n}`, { n });
      await finishDelivery(h.sql, id, 'succeeded', { outcome: { n } });
    };
    for (let i = 0; i < 80; i++) await run(i);
    await h.sql`insert into deliveries (direction, kind, connection_id, dedup_key, status)
      select 'out', 'reconcile', 'plane-main', 'plans-bulk-' || g, 'succeeded' from generate_series(1, 20000) g`;
    await h.sql`select pg_stat_reset_single_table_counters('deliveries'::regclass)`;

    for (let i = 100; i < 120; i++) await run(i);
    const { scanned } = await reported('deliveries', 20);
    expect(scanned).toBeLessThan(20_000);
  });
});
