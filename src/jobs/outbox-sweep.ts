import type { Sql } from '../db/client.ts';
import type { Queues } from '../queues/queues.ts';

/** Items read by one sweep's paged pass: its cost, and (times the sweep interval) its cycle. */
export const SWEEP_PAGE_ITEMS = 10_000;
/** The recent pass never looks further back than this, however long no sweep ran. */
const RECENT_MAX_SECONDS = 300;
/** The sweep's cursor row in sync_cursors (not a connection: the sweep covers them all). */
const CURSOR = { connectionId: '*', name: 'outbox-sweep' } as const;

interface SweepCursor {
  /** The paged pass resumes after this item key ('' : from the first). */
  after: string;
  /** The recent pass has read the event deliveries created up to this instant (ISO). */
  recentUntil?: string;
}

export interface SweepOptions {
  callbacks: boolean;
  graceSeconds?: number;
  limit?: number;
  /** Every pair of every item at once: at a worker's start and after the queue store came back. */
  full?: boolean;
  /** Items per paged pass (tests use a small page). */
  pageItems?: number;
}

type Pair = { connection_id: string; item_key: string };

/**
 * The outbox sweep. The api commits events, then enqueues; a crash (or a Redis outage) between
 * the two would leave committed work with no job. Every mapping behind its item's version that
 * is not a known permanent failure is that work; re-enqueueing it is harmless because jobs are
 * deduplicated per pair. Recent items are skipped: the api is enqueueing those right now. A pair
 * whose remote issue was deleted never syncs again (its reconcile skips without advancing the
 * version), so it is not lost work: counted as such, it was re-enqueued on every sweep.
 *
 * The scheduled sweep (every 10 s) costs the same however many items are stored (issue 17, §4:
 * the join of every mapping with its item took 0.3 to 0.7 s at 200,000 items). Each sweep runs:
 * - the recent pass: the pairs of the items named by the event deliveries committed since the
 *   last sweep (index deliveries_created), so the usual loss, the api dying between its commit
 *   and its enqueue, is re-enqueued at the next sweep past the grace period;
 * - the flagged pass: pairs with a remote change to read (partial index mappings_remote_changed,
 *   only rows with the flag set), of any age;
 * - the paged pass: the next SWEEP_PAGE_ITEMS items in key order after a cursor kept in
 *   sync_cursors, joined with their mappings, wrapping around at the end. It finds everything the
 *   other passes cannot (a version moved by an operator's force or a resolved conflict, a batch
 *   of more than 50 items, a commit slower than the grace period, a sweep that failed).
 * The bound: a mapping behind its item's version is re-enqueued at the latest
 * ceil(items / SWEEP_PAGE_ITEMS) sweeps after it fell behind (one sweep below 10,000 items;
 * 200 s at 200,000 items with the 10 s schedule), and within one sweep past the grace period in
 * the usual cases above. A worker's start and a queue store's reconnect sweep everything at once
 * (`full`), as before.
 */
export async function sweepOutbox(sql: Sql, queues: Queues, options: SweepOptions): Promise<number> {
  const graceSeconds = options.graceSeconds ?? 5;
  const limit = options.limit ?? 5000;
  const grace = pastGrace(sql, graceSeconds);
  let pairs: Pair[];
  if (options.full) {
    pairs = await sql<Pair[]>`
      select m.connection_id, m.item_key from mappings m join items i on i.key = m.item_key
      where ((i.version > greatest(m.synced_version, m.failed_version) and m.status <> 'remote_deleted')
          or (m.remote_changed_at is not null and m.status not in ('remote_deleted', 'deleted', 'error')))
        and greatest(i.updated_at, m.remote_changed_at) < ${grace}
      order by i.updated_at limit ${limit}`;
  } else {
    pairs = await boundedPasses(sql, { graceSeconds, limit, pageItems: options.pageItems ?? SWEEP_PAGE_ITEMS });
  }
  const seen = new Set<string>();
  const unique = pairs.filter((p) => {
    const id = `${p.connection_id}\u0000${p.item_key}`;
    return seen.has(id) ? false : (seen.add(id), true);
  });
  await queues.enqueueReconcile(
    unique.map((r) => ({ connectionId: r.connection_id, itemKey: r.item_key, reason: 'sweep' as const, readRemote: false })),
  );

  // Webhooks committed but never enqueued (or whose job vanished with a Redis restart). Those of a
  // batch job still queued or running are left to it: under a backlog that job may well start
  // later than the grace period, and running a delivery twice at once would race.
  const received = await sql<{ id: string; connection_id: string; job_id: string | null; request_id: string | null }[]>`
    select id, connection_id, job_id, request_id from deliveries
    where direction = 'in' and kind = 'webhook' and status = 'received' and created_at < now() - make_interval(secs => ${graceSeconds})
    order by created_at limit ${limit}`;
  const live = await queues.liveInboundJobs([...new Set(received.flatMap((w) => (w.job_id ? [w.job_id] : [])))]);
  const webhooks = received.filter((w) => !w.job_id || !live.has(w.job_id));
  // The request id goes with it, so the work it starts still names the webhook that caused it.
  await queues.enqueueInbound(
    webhooks.map((w) => ({ deliveryId: w.id, connectionId: w.connection_id, ...(w.request_id ? { requestId: w.request_id } : {}) })),
  );

  // Changes whose callback never went out.
  let callbacks: { id: string }[] = [];
  if (options.callbacks) {
    callbacks = await sql<{ id: string }[]>`select id from changes
      where notified_at is null and callback_status is null and at < now() - make_interval(secs => ${graceSeconds * 2})
      order by id limit ${limit}`;
    await queues.enqueueCallbacks(callbacks.map((c) => Number(c.id)));
  }
  return unique.length + webhooks.length + callbacks.length;
}

/** The instant before which a change is no longer the api's to enqueue. */
const pastGrace = (sql: Sql, graceSeconds: number) => sql`now() - make_interval(secs => ${graceSeconds})`;

/** A mapping behind its item's version, not failed for good at that version and not orphaned. */
const behind = (sql: Sql) => sql`i.version > greatest(m.synced_version, m.failed_version) and m.status <> 'remote_deleted'`;

/** The scheduled sweep's three passes (see sweepOutbox): each reads a bounded number of rows. */
async function boundedPasses(sql: Sql, options: { graceSeconds: number; limit: number; pageItems: number }): Promise<Pair[]> {
  const { graceSeconds, limit, pageItems } = options;
  const grace = () => pastGrace(sql, graceSeconds);
  const [saved] = await sql<{ value: SweepCursor }[]>`
    select value from sync_cursors where connection_id = ${CURSOR.connectionId} and name = ${CURSOR.name}`;
  const cursor: SweepCursor = saved?.value ?? { after: '' };

  // Recent: the items of the event deliveries committed since the last sweep. A request of one
  // item names it in item_key; one of several lists (up to 50 of) them in its summary.
  const [{ until }] = await sql<{ until: Date }[]>`select ${grace()} as until`;
  const from = cursor.recentUntil ?? new Date(until.getTime() - RECENT_MAX_SECONDS * 1000).toISOString();
  const recent = await sql<Pair[]>`
    with keys as (
      select coalesce(d.item_key, k.key) as key from deliveries d
        left join lateral jsonb_array_elements_text(case when d.item_key is null then d.request -> 'keys' end) k(key) on true
      where d.created_at > greatest(${from}::timestamptz, ${until}::timestamptz - make_interval(secs => ${RECENT_MAX_SECONDS}))
        and d.created_at <= ${until} and d.direction = 'in' and d.kind = 'event'
    )
    select m.connection_id, m.item_key from (select distinct key from keys where key is not null) k
      join items i on i.key = k.key join mappings m on m.item_key = i.key
    where ${behind(sql)} and i.updated_at < ${grace()}
    limit ${limit}`;

  // Flagged: a remote change to read (webhook or poll) whose job a crash lost, of any age.
  const flagged = await sql<Pair[]>`
    select m.connection_id, m.item_key from mappings m join items i on i.key = m.item_key
    where m.remote_changed_at is not null and m.status not in ('remote_deleted', 'deleted', 'error')
      and greatest(i.updated_at, m.remote_changed_at) < ${grace()}
    order by m.remote_changed_at limit ${limit}`;

  // Paged: the next page of items in key order (the primary key and mappings_item_connection),
  // whatever their age; past the last item the next sweep starts again from the first.
  const [end] = await sql<{ key: string }[]>`
    select key from items where key > ${cursor.after} order by key offset ${pageItems - 1} limit 1`;
  const paged = await sql<Pair[]>`
    select m.connection_id, m.item_key from items i join mappings m on m.item_key = i.key
    where i.key > ${cursor.after} and m.item_key > ${cursor.after}
      ${end ? sql`and i.key <= ${end.key} and m.item_key <= ${end.key}` : sql``}
      and ${behind(sql)} and i.updated_at < ${grace()}`;

  const next: SweepCursor = { after: end?.key ?? '', recentUntil: until.toISOString() };
  await sql`insert into sync_cursors (connection_id, name, value) values (${CURSOR.connectionId}, ${CURSOR.name}, ${sql.json(next as never)})
    on conflict (connection_id, name) do update set value = excluded.value, updated_at = now()`;
  return [...recent, ...flagged, ...paged];
}
