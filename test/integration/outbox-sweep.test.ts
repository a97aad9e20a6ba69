import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.ts';
import { sweepOutbox } from '../../src/jobs/outbox-sweep.ts';
import type { Queues } from '../../src/queues/queues.ts';

/**
 * The scheduled outbox sweep reads a bounded slice of the data (issue 17, §4): the pairs of items
 * just evented, the pairs flagged with a remote change, and one page of items after a cursor. These
 * tests hold it to the outbox's promise: a pair behind its item is found however old it is.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness('outbox_sweep', { workers: false });
});
afterAll(async () => h?.close());

const ITEMS = 35;
const PAGE = 10;
const key = (n: number) => `sweep/${String(n).padStart(2, '0')}`;

/** The pairs each sweep enqueues, without a queue. */
function recorder() {
  const found: string[][] = [];
  const queues = {
    enqueueReconcile: async (jobs: { itemKey: string }[]) => void found.push(jobs.map((j) => j.itemKey)),
    enqueueInbound: async () => {},
    enqueueCallbacks: async () => {},
    liveInboundJobs: async () => new Set<string>(),
  } as unknown as Queues;
  const sweep = (options: { full?: boolean; graceSeconds?: number } = {}) =>
    sweepOutbox(h.sql, queues, { callbacks: false, graceSeconds: 5, pageItems: PAGE, ...options });
  return { found, sweep };
}

beforeEach(async () => {
  await h.sql`delete from sync_cursors where name = 'outbox-sweep'`;
  await h.sql`delete from deliveries`;
  await h.sql`delete from mappings`;
  await h.sql`delete from items`;
  // Synced 20 days ago, nothing pending: what most of a large install looks like.
  await h.sql`insert into items (key, kind, version, updated_at)
    select 'sweep/' || lpad(g::text, 2, '0'), 'task', 2, now() - interval '20 days' from generate_series(1, ${ITEMS}) g`;
  await h.sql`insert into mappings (item_key, connection_id, status, synced_version, updated_at)
    select key, 'plane-main', 'synced', 2, now() - interval '20 days' from items`;
});

describe('outbox sweep', () => {
  it('finds a pair behind its item for 20 days, outside the recent window, within one cycle of pages', async () => {
    // Committed 20 days ago and never enqueued: no delivery is recent, no remote change flagged.
    await h.sql`update items set version = 3 where key = ${key(27)}`;
    const { found, sweep } = recorder();
    const cycle = Math.ceil(ITEMS / PAGE);
    for (let i = 0; i < cycle; i++) await sweep();
    // Found by exactly one page (the third: items 21 to 30), and only by it.
    expect(found).toEqual([[], [], [key(27)], []]);
    // The cursor wrapped: the next cycle finds it again while it is still behind.
    for (let i = 0; i < cycle; i++) await sweep();
    expect(found.flat()).toEqual([key(27), key(27)]);
  });

  it('the full sweep (a worker start, a queue store reconnect) finds it at once', async () => {
    await h.sql`update items set version = 3 where key = ${key(33)}`;
    const { found, sweep } = recorder();
    await sweep({ full: true });
    expect(found).toEqual([[key(33)]]);
  });

  it('finds a just-evented item whose enqueue was lost, and a pair flagged with a remote change, at the next sweep past the grace period', async () => {
    const { found, sweep } = recorder();
    const grace = { graceSeconds: 1 };
    await sweep(grace); // page 1; the recent pass reads on from here
    // An event for one item and a batch naming two others commit (the api dies before enqueueing)...
    await h.sql`update items set version = 3, updated_at = now() where key in ${h.sql([key(31), key(32), key(34)])}`;
    await h.sql`insert into deliveries (direction, kind, status, item_key, request) values
      ('in', 'event', 'accepted', ${key(31)}, ${h.sql.json({ events: 1, keys: [key(31)] })}),
      ('in', 'event', 'accepted', null, ${h.sql.json({ events: 2, keys: [key(32), key(34)] })})`;
    // ...and a webhook's remote change flagged on an old pair, its job lost.
    await h.sql`update mappings set remote_changed_at = now() - interval '1 day' where item_key = ${key(3)}`;
    found.length = 0;
    // Within the grace period the api is enqueueing them: left alone.
    await sweep(grace); // page 2 (items 11 to 20)
    expect(found[0]).toEqual([key(3)]);
    await new Promise((r) => setTimeout(r, 1100));
    await sweep(grace); // page 3 (items 21 to 30): none of them either
    expect(found[1].sort()).toEqual([key(3), key(31), key(32), key(34)]);
  });
});
