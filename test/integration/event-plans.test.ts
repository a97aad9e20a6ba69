import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { EventBatcher } from '../../src/intake/event-batcher.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('event_plans', { workers: false });
});
afterAll(async () => h?.close());

const upsert = (key: string) => ({
  events: [{ type: 'item.upserted' as const, item: { key, kind: 'work_package', title: `Item ${key}`, state: 'doing' } }],
  request: { events: 1 },
});

/** Rows of items read by sequential scans, and rows updated, as the backends have reported them. */
async function itemCounters(): Promise<{ scanned: number; updated: number }> {
  const [row] = await h.sql<{ scanned: number; updated: number }[]>`
    select coalesce(seq_tup_read, 0)::int as scanned, coalesce(n_tup_upd, 0)::int as updated from pg_stat_user_tables where relname = 'items'`;
  return row;
}

describe('event batches on a table that grew after its statements were planned', () => {
  it('look items up by key, not by reading the whole table', async () => {
    // Deterministic statistics: no autovacuum ANALYZE may re-plan behind the test's back.
    await h.sql`alter table items set (autovacuum_enabled = false)`;
    const batcher = new EventBatcher(h.sql, h.runtime.connections, h.runtime.queues, h.runtime.log);
    // Plenty of batches while items is tiny: a connection that prepares a statement switches to a
    // cached generic plan after five runs, and a generic plan made now would scan the table.
    for (let i = 0; i < 80; i++) await batcher.accept(upsert(`plans/small/${i}`));
    await h.sql`insert into items (key, version) select 'plans/bulk/' || g, 1 from generate_series(1, 20000) g`;
    await h.sql`select pg_stat_reset_single_table_counters('items'::regclass)`;

    for (let i = 0; i < 20; i++) await batcher.accept(upsert(`plans/large/${i}`));
    // Backends report their counters some seconds after going idle: wait until the twenty batches'
    // updates of items show, so that their scans (if any) show too.
    const counters = await waitFor(async () => {
      const now = await itemCounters();
      return now.updated >= 20 ? now : null;
    }, 20_000, 250);
    // Twenty batches that each read the table would have read 400,000 rows.
    expect(counters.scanned).toBeLessThan(20_000);
  });
});
