import type { Sql } from '../../db/client.ts';
import type { PullRequestState } from '../../config/schema.ts';
import type { FieldValues } from '../fields.ts';
import { refusedLinkHead, type RemotePullRequest } from '../port/pull-requests.ts';
import type { AppliedPullRequest, PullRequestPair, PullRequestRow, PullRequestStore } from '../port/store.ts';

/**
 * The pull_requests table (src/sync/port/store.ts, PullRequestStore): an item's pull requests on a
 * github connection, and the links written for them on the other connections. Kept apart from the
 * pair statements: pull request rows are changed only by the reconcile of their (item, github
 * connection) pair, except for the "changed" flag a webhook or a poll sets and the links each
 * other connection's reconcile records.
 */

interface Row {
  id: string;
  item_key: string;
  connection_id: string;
  number: number | null;
  url: string | null;
  title: string | null;
  state: PullRequestState | null;
  head: string;
  base: string | null;
  origin: PullRequestRow['origin'];
  create_intent_at: Date | string | null;
  reviewers_requested_at: Date | string | null;
  remote_changed_at: Date | string | null;
  remote_actor: string | null;
  failed_for: string | null;
  last_error: string | null;
  links: PullRequestRow['links'] | null;
}

// Rows read through jsonb (loadPair) carry their timestamps as text.
const date = (v: Date | string | null): Date | null => (v === null ? null : v instanceof Date ? v : new Date(v));

const toRow = (r: Row): PullRequestRow => ({
  id: Number(r.id),
  itemKey: r.item_key,
  connectionId: r.connection_id,
  number: r.number,
  url: r.url,
  title: r.title,
  state: r.state,
  head: r.head,
  base: r.base,
  origin: r.origin,
  createIntentAt: date(r.create_intent_at),
  reviewersRequestedAt: date(r.reviewers_requested_at),
  remoteChangedAt: date(r.remote_changed_at),
  remoteActor: r.remote_actor,
  failedFor: r.failed_for,
  lastError: r.last_error,
  links: r.links ?? {},
});

export class PostgresPullRequestStore implements PullRequestStore {
  constructor(private readonly sql: Sql) {}

  async loadPair(itemKey: string, connectionId: string): Promise<PullRequestPair> {
    const [row] = await this.sql<
      {
        key: string;
        desired: FieldValues;
        version: string;
        deleted_at: Date | null;
        branch: string | null;
        pull_request_link: string | null;
        remote_id: string | null;
        remote_key: string | null;
        mapped: boolean;
        rows: Row[];
      }[]
    >`
      select i.key, i.desired, i.version, i.deleted_at, i.branch, i.pull_request_link,
        m.remote_id, m.remote_key, m.id is not null as mapped,
        (select coalesce(jsonb_agg(to_jsonb(p) order by p.id), '[]'::jsonb) from pull_requests p where p.item_key = i.key) as rows
      from items i
      left join mappings m on m.item_key = i.key and m.connection_id = ${connectionId} and m.status not in ('deleted', 'remote_deleted')
      where i.key = ${itemKey}`;
    if (!row) return { item: null, mapping: null, rows: [] };
    return {
      item: {
        key: row.key,
        desired: row.desired ?? {},
        version: Number(row.version),
        deleted: row.deleted_at !== null,
        branch: row.branch,
        pullRequestLink: row.pull_request_link,
      },
      mapping: row.mapped ? { remoteId: row.remote_id, remoteKey: row.remote_key } : null,
      rows: row.rows.map(toRow),
    };
  }

  async rows(itemKey: string): Promise<PullRequestRow[]> {
    const rows = await this.sql<Row[]>`select * from pull_requests where item_key = ${itemKey} order by id`;
    return rows.map(toRow);
  }

  async recordOpenIntent(itemKey: string, connectionId: string, head: string, base: string | null): Promise<PullRequestRow> {
    const [row] = await this.sql<Row[]>`
      insert into pull_requests (item_key, connection_id, head, base, origin, create_intent_at)
      values (${itemKey}, ${connectionId}, ${head}, ${base}, 'opened', now())
      on conflict (item_key, connection_id, head) do update set create_intent_at = coalesce(pull_requests.create_intent_at, now()), updated_at = now()
      returning *`;
    return toRow(row);
  }

  async recordOpenFailure(id: number, failedFor: string, message: string): Promise<void> {
    await this.sql`update pull_requests set last_error = ${message}, failed_for = ${failedFor}, updated_at = now() where id = ${id}`;
  }

  async recordReviewersRequested(id: number): Promise<void> {
    await this.sql`update pull_requests set reviewers_requested_at = now(), updated_at = now() where id = ${id}`;
  }

  async recordLinked(itemKey: string, connectionId: string, pr: RemotePullRequest): Promise<PullRequestRow | { takenBy: string }> {
    const sql = this.sql;
    const [holder] = await sql<
      { item_key: string }[]
    >`select item_key from pull_requests where connection_id = ${connectionId} and number = ${pr.number}`;
    if (holder && holder.item_key !== itemKey) return { takenBy: holder.item_key };
    const [row] = await sql<Row[]>`
      with refusals as (
        delete from pull_requests where item_key = ${itemKey} and connection_id = ${connectionId} and number is null and origin = 'linked' and head like 'pull/%/head')
      insert into pull_requests (item_key, connection_id, number, head, base, origin)
      values (${itemKey}, ${connectionId}, ${pr.number}, ${pr.head}, ${pr.base}, 'linked')
      on conflict (item_key, connection_id, head) do update set number = coalesce(pull_requests.number, excluded.number),
        origin = case when pull_requests.origin = 'detached' then 'linked' else pull_requests.origin end, updated_at = now()
      returning *`;
    return toRow(row);
  }

  async recordLinkRefused(itemKey: string, connectionId: string, number: number, message: string): Promise<void> {
    await this.sql`
      insert into pull_requests (item_key, connection_id, head, origin, failed_for, last_error)
      values (${itemKey}, ${connectionId}, ${refusedLinkHead(number)}, 'linked', ${`link #${number}`}, ${message})
      on conflict (item_key, connection_id, head) do update set failed_for = excluded.failed_for, last_error = excluded.last_error, updated_at = now()`;
    await this.dropLinkRefusals(itemKey, connectionId, number);
  }

  async dropLinkRefusals(itemKey: string, connectionId: string, keep: number | null): Promise<void> {
    await this.sql`delete from pull_requests where item_key = ${itemKey} and connection_id = ${connectionId} and number is null
      and origin = 'linked' and head like 'pull/%/head' and head <> ${keep === null ? '' : refusedLinkHead(keep)}`;
  }

  /**
   * In one transaction: the row, and when its state moved, the audit trail, an `item.pr_changed`
   * change for the orchestrator and, with `state_map`, the item's new state as a pull (a new
   * version, a `field.pulled` row, an `item.changed` change), as a pulled field change goes, so
   * every other connection carrying the item follows.
   */
  async apply(args: {
    row: PullRequestRow;
    pr: RemotePullRequest;
    connectionId: string;
    stateMap: Partial<Record<PullRequestState, string>>;
    seenChangeAt: Date | null;
  }): Promise<AppliedPullRequest> {
    const { row, pr, connectionId } = args;
    const actor = `sync:${connectionId}`;
    return this.sql.begin(async (tx) => {
      await tx`update pull_requests set number = ${pr.number}, url = ${pr.url}, title = ${pr.title}, state = ${pr.state}, head = ${pr.head}, base = ${pr.base},
          remote_updated_at = ${pr.updatedAt}, last_error = null, failed_for = null, updated_at = now(),
          remote_changed_at = case when remote_changed_at <= ${args.seenChangeAt ?? new Date(0)} then null else remote_changed_at end,
          remote_actor = case when remote_changed_at <= ${args.seenChangeAt ?? new Date(0)} then null else remote_actor end
        where id = ${row.id}`;
      const result: AppliedPullRequest = { changeIds: [], changed: row.state !== pr.state || row.title !== pr.title, itemMoved: false };
      if (row.state === pr.state) return result;
      // Who merged it, as GitHub says, rather than the sender of the webhook that flagged the row:
      // a read that comes late (Trackline's own "opened" webhook flagged it) already sees the merge.
      const by = (pr.state === 'merged' ? pr.mergedBy : null) ?? row.remoteActor ?? actor;
      await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value, detail)
        values (${row.itemKey}, ${actor}, 'pull_request.changed', ${connectionId}, 'pull_request', ${tx.json(row.state as never)}, ${tx.json(pr.state as never)},
          ${tx.json({ number: pr.number, url: pr.url, by } as never)})`;
      const [change] = await tx<{ id: string }[]>`insert into changes (item_key, connection_id, type, actor, pull_request)
        values (${row.itemKey}, ${connectionId}, 'item.pr_changed', ${by},
          ${tx.json({ number: pr.number, url: pr.url, title: pr.title, head: pr.head, base: pr.base, from: row.state, to: pr.state } as never)}) returning id`;
      result.changeIds.push(Number(change.id));
      const target = args.stateMap[pr.state];
      if (!target) return result;
      const [item] = await tx<{ desired: FieldValues }[]>`select desired from items where key = ${row.itemKey} for update`;
      const before = item?.desired.state ?? null;
      if (!item || before === target) return result;
      await tx`update items set desired = desired || ${tx.json({ state: target } as never)}, version = version + 1, updated_at = now() where key = ${row.itemKey}`;
      await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value, detail)
        values (${row.itemKey}, ${actor}, 'field.pulled', ${connectionId}, 'state', ${tx.json(before as never)}, ${tx.json(target as never)},
          ${tx.json({ pull_request: pr.number, pull_request_state: pr.state } as never)})`;
      const [moved] = await tx<{ id: string }[]>`insert into changes (item_key, connection_id, fields, actor)
        values (${row.itemKey}, ${connectionId}, ${tx.json({ state: { from: before, to: target } } as never)}, ${by}) returning id`;
      result.changeIds.push(Number(moved.id));
      result.itemMoved = true;
      return result;
    }) as Promise<AppliedPullRequest>;
  }

  async detach(id: number, actor: string, reason: string): Promise<void> {
    const sql = this.sql;
    await sql.begin(async (tx) => {
      const [row] = await tx<Row[]>`
        update pull_requests set origin = 'detached', remote_changed_at = null, remote_actor = null, updated_at = now()
        where id = ${id} and origin <> 'detached' returning *`;
      if (!row) return;
      await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, detail)
        values (${row.item_key}, ${actor}, 'pull_request.detached', ${row.connection_id}, 'pull_request', ${tx.json(row.number as never)},
          ${tx.json({ number: row.number, url: row.url, reason } as never)})`;
      // No link shows it anywhere: nothing is left to remove.
      await tx`delete from pull_requests where id = ${id} and links = '{}'::jsonb`;
    });
  }

  async reattach(id: number, origin: 'closes' | 'linked'): Promise<void> {
    await this.sql`update pull_requests set origin = ${origin}, updated_at = now() where id = ${id} and origin = 'detached'`;
  }

  async clearRemoteChange(id: number, seenAt: Date): Promise<void> {
    await this
      .sql`update pull_requests set remote_changed_at = null, remote_actor = null where id = ${id} and remote_changed_at <= ${seenAt}`;
  }

  async recordLink(id: number, connectionId: string, link: { id: string; title: string; state: string }): Promise<boolean> {
    const rows = await this
      .sql`update pull_requests set links = links || ${this.sql.json({ [connectionId]: link } as never)}, updated_at = now()
      where id = ${id} and origin <> 'detached' returning id`;
    return rows.length > 0;
  }

  async recordLinkRemoved(id: number, connectionId: string): Promise<void> {
    await this.sql`update pull_requests set links = links - ${connectionId}::text, updated_at = now() where id = ${id}`;
    // A separate statement: a delete in the same statement as the update would not see its row.
    await this.sql`delete from pull_requests where id = ${id} and origin = 'detached' and links = '{}'::jsonb`;
  }

  /**
   * A webhook or a poll saw the pull request change. It is flagged on the rows that follow it, and
   * rows are added for the items it concerns but nobody recorded yet: the item whose branch it comes
   * from, and the items whose issues its body closes (`Closes #N`). Answers the items to reconcile.
   * `updatedAt` (polls) skips a pull request already read at that timestamp, unless the list shows
   * it in another state (GitHub's timestamps are whole seconds: a merge in the second of the last
   * read has the same one). The list cannot tell a review decision, so `open` matches those.
   */
  async noteActivity(
    connectionId: string,
    pr: { number: number; head: string; closes: string[]; actor?: string | null; updatedAt?: string; state?: PullRequestState },
  ): Promise<string[]> {
    const sql = this.sql;
    const known = await sql<{ item_key: string }[]>`
      update pull_requests set remote_changed_at = date_trunc('milliseconds', now()), remote_actor = ${pr.actor ?? null}, updated_at = now()
      where connection_id = ${connectionId} and number = ${pr.number}
        and (${pr.updatedAt ?? null}::text is null or remote_updated_at is distinct from ${pr.updatedAt ?? null}::text
          or (${pr.state ?? null}::text is not null and state is distinct from ${pr.state ?? null}::text
            and not (${pr.state ?? null}::text = 'open' and state in ('approved', 'changes_requested'))))
      returning item_key`;
    if (known.length) return known.map((r) => r.item_key);
    const [taken] = await sql`select 1 from pull_requests where connection_id = ${connectionId} and number = ${pr.number}`;
    if (taken) return [];
    // Items carried by this connection whose branch it is, or whose issue it closes.
    const items = await sql<{ item_key: string; origin: string }[]>`
      select m.item_key, 'branch' as origin from mappings m join items i on i.key = m.item_key
        where m.connection_id = ${connectionId} and i.branch = ${pr.head} and i.deleted_at is null
      union
      select m.item_key, 'closes' from mappings m
        where m.connection_id = ${connectionId} and m.remote_id = any(${pr.closes}::text[]) and m.status not in ('deleted', 'remote_deleted')`;
    const out: string[] = [];
    for (const { item_key, origin } of items) {
      // One pull request follows one item per connection: the first one that claims it.
      const [row] = await sql<{ item_key: string }[]>`
        insert into pull_requests (item_key, connection_id, number, head, origin, remote_changed_at, remote_actor)
        select ${item_key}, ${connectionId}, ${pr.number}, ${pr.head}, ${origin}, date_trunc('milliseconds', now()), ${pr.actor ?? null}
        where not exists (select 1 from pull_requests where connection_id = ${connectionId} and number = ${pr.number})
        on conflict (item_key, connection_id, head) do update set number = coalesce(pull_requests.number, excluded.number),
          remote_changed_at = excluded.remote_changed_at, remote_actor = excluded.remote_actor, updated_at = now()
        returning item_key`;
      if (row) out.push(row.item_key);
    }
    return out;
  }

  async forgetRefusals(itemKey: string, connectionId: string): Promise<void> {
    await this
      .sql`update pull_requests set failed_for = null, updated_at = now() where item_key = ${itemKey} and connection_id = ${connectionId} and number is null`;
  }

  /** The item view's `pullRequests` (GET /v1/items/{key}): those that are the item's (not detached). */
  async itemView(itemKey: string) {
    const rows = await this.rows(itemKey);
    return rows
      .filter((r) => r.origin !== 'detached')
      .map((r) => ({
        connection: r.connectionId,
        number: r.number,
        url: r.url,
        title: r.title,
        state: r.state,
        head: r.head,
        base: r.base,
        origin: r.origin as Exclude<PullRequestRow['origin'], 'detached'>,
        lastError: r.lastError,
        links: Object.fromEntries(Object.entries(r.links).map(([connection, link]) => [connection, { id: link.id, state: link.state }])),
      }));
  }
}

const stores = new WeakMap<Sql, PostgresPullRequestStore>();

/** One store per database handle. */
export function pgPullRequestStore(sql: Sql): PostgresPullRequestStore {
  let store = stores.get(sql);
  if (!store) stores.set(sql, (store = new PostgresPullRequestStore(sql)));
  return store;
}
