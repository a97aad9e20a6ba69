import type { Sql } from '../../db/client.ts';
import type { PullRequestState } from '../../config/schema.ts';
import type { FieldValues } from '../fields.ts';
import type { RemotePullRequest } from '../port/pull-requests.ts';

/**
 * The pull_requests table: an item's pull requests on a github connection, and the links written
 * for them on the other connections. Kept apart from the pair statements: pull requests are their
 * own rows, changed only by the reconcile of their (item, github connection) pair, except for the
 * "changed" flag a webhook or a poll sets.
 */

export interface PullRequestRow {
  id: number;
  itemKey: string;
  connectionId: string;
  number: number | null;
  url: string | null;
  title: string | null;
  state: PullRequestState | null;
  head: string;
  base: string | null;
  origin: 'opened' | 'branch' | 'linked' | 'closes';
  createIntentAt: Date | null;
  reviewersRequestedAt: Date | null;
  remoteChangedAt: Date | null;
  remoteActor: string | null;
  failedFor: string | null;
  lastError: string | null;
  links: Record<string, { id: string; title: string; state: string }>;
}

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
  create_intent_at: Date | null;
  reviewers_requested_at: Date | null;
  remote_changed_at: Date | null;
  remote_actor: string | null;
  failed_for: string | null;
  last_error: string | null;
  links: PullRequestRow['links'];
}

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
  createIntentAt: r.create_intent_at,
  reviewersRequestedAt: r.reviewers_requested_at,
  remoteChangedAt: r.remote_changed_at,
  remoteActor: r.remote_actor,
  failedFor: r.failed_for,
  lastError: r.last_error,
  links: r.links ?? {},
});

export async function loadPullRequests(sql: Sql, itemKey: string): Promise<PullRequestRow[]> {
  const rows = await sql<Row[]>`select * from pull_requests where item_key = ${itemKey} order by id`;
  return rows.map(toRow);
}

/** The item as the pull request step needs it: state, title, body and assignees, its branch and linked pull request. */
export interface PullRequestItem {
  key: string;
  desired: FieldValues;
  version: number;
  deleted: boolean;
  branch: string | null;
  pullRequestLink: string | null;
}

export async function loadPullRequestItem(sql: Sql, itemKey: string): Promise<PullRequestItem | null> {
  const [row] = await sql<
    {
      key: string;
      desired: FieldValues;
      version: string;
      deleted_at: Date | null;
      branch: string | null;
      pull_request_link: string | null;
    }[]
  >`
    select key, desired, version, deleted_at, branch, pull_request_link from items where key = ${itemKey}`;
  return row
    ? {
        key: row.key,
        desired: row.desired ?? {},
        version: Number(row.version),
        deleted: row.deleted_at !== null,
        branch: row.branch,
        pullRequestLink: row.pull_request_link,
      }
    : null;
}

/** The intent to open a pull request from `head`, committed before the call (exactly-once open). */
export async function recordOpenIntent(
  sql: Sql,
  itemKey: string,
  connectionId: string,
  head: string,
  base: string | null,
): Promise<PullRequestRow> {
  const [row] = await sql<Row[]>`
    insert into pull_requests (item_key, connection_id, head, base, origin, create_intent_at)
    values (${itemKey}, ${connectionId}, ${head}, ${base}, 'opened', now())
    on conflict (item_key, connection_id, head) do update set create_intent_at = coalesce(pull_requests.create_intent_at, now()), updated_at = now()
    returning *`;
  return toRow(row);
}

/** GitHub refused to open it for good (unknown branch, nothing to merge): not tried again for this head and base. */
export async function recordOpenFailure(sql: Sql, id: number, failedFor: string, message: string): Promise<void> {
  await sql`update pull_requests set last_error = ${message}, failed_for = ${failedFor}, updated_at = now() where id = ${id}`;
}

export async function recordReviewersRequested(sql: Sql, id: number): Promise<void> {
  await sql`update pull_requests set reviewers_requested_at = now(), updated_at = now() where id = ${id}`;
}

/** A pull request found by number (`links.pull_request`), recorded before its state is applied. */
export async function recordLinked(
  sql: Sql,
  itemKey: string,
  connectionId: string,
  pr: RemotePullRequest,
): Promise<PullRequestRow | { takenBy: string }> {
  const [holder] = await sql<
    { item_key: string }[]
  >`select item_key from pull_requests where connection_id = ${connectionId} and number = ${pr.number}`;
  if (holder && holder.item_key !== itemKey) return { takenBy: holder.item_key };
  const [row] = await sql<Row[]>`
    insert into pull_requests (item_key, connection_id, number, head, base, origin)
    values (${itemKey}, ${connectionId}, ${pr.number}, ${pr.head}, ${pr.base}, 'linked')
    on conflict (item_key, connection_id, head) do update set number = coalesce(pull_requests.number, excluded.number), updated_at = now()
    returning *`;
  return toRow(row);
}

export interface AppliedPullRequest {
  changeIds: number[];
  /** The pull request's state or title changed: links on the other trackers are out of date. */
  changed: boolean;
  /** state_map moved the item to a new state (a new version every connection syncs). */
  itemMoved: boolean;
}

/**
 * What GitHub says of the pull request now, in one transaction: the row, and when its state moved,
 * the audit trail, an `item.pr_changed` change for the orchestrator and, with `state_map`, the
 * item's new state as a pull (a new version, a `field.pulled` row, an `item.changed` change), as a
 * pulled field change goes, so every other connection carrying the item follows.
 */
export async function applyPullRequest(
  sql: Sql,
  args: {
    row: PullRequestRow;
    pr: RemotePullRequest;
    connectionId: string;
    stateMap: Partial<Record<PullRequestState, string>>;
    seenChangeAt: Date | null;
  },
): Promise<AppliedPullRequest> {
  const { row, pr, connectionId } = args;
  const actor = `sync:${connectionId}`;
  return sql.begin(async (tx) => {
    await tx`update pull_requests set number = ${pr.number}, url = ${pr.url}, title = ${pr.title}, state = ${pr.state}, head = ${pr.head}, base = ${pr.base},
        remote_updated_at = ${pr.updatedAt}, last_error = null, failed_for = null, updated_at = now(),
        remote_changed_at = case when remote_changed_at <= ${args.seenChangeAt ?? new Date(0)} then null else remote_changed_at end,
        remote_actor = case when remote_changed_at <= ${args.seenChangeAt ?? new Date(0)} then null else remote_actor end
      where id = ${row.id}`;
    const result: AppliedPullRequest = { changeIds: [], changed: row.state !== pr.state || row.title !== pr.title, itemMoved: false };
    if (row.state === pr.state) return result;
    const by = row.remoteActor ?? actor;
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

/** The link written (or rewritten) on `connectionId`'s issue for this pull request. */
export async function recordLink(
  sql: Sql,
  id: number,
  connectionId: string,
  link: { id: string; title: string; state: string },
): Promise<void> {
  await sql`update pull_requests set links = links || ${sql.json({ [connectionId]: link } as never)}, updated_at = now() where id = ${id}`;
}

/**
 * A webhook or a poll saw the pull request change. It is flagged on the rows that follow it, and
 * rows are added for the items it concerns but nobody recorded yet: the item whose branch it comes
 * from, and the items whose issues its body closes (`Closes #N`). Answers the items to reconcile.
 * `updatedAt` (polls) skips a pull request already read at that timestamp.
 */
export async function notePullRequestActivity(
  sql: Sql,
  connectionId: string,
  pr: { number: number; head: string; closes: string[]; actor?: string | null; updatedAt?: string },
): Promise<string[]> {
  const known = await sql<{ item_key: string }[]>`
    update pull_requests set remote_changed_at = date_trunc('milliseconds', now()), remote_actor = ${pr.actor ?? null}, updated_at = now()
    where connection_id = ${connectionId} and number = ${pr.number}
      and (${pr.updatedAt ?? null}::text is null or remote_updated_at is distinct from ${pr.updatedAt ?? null}::text)
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

/** The item view's `pullRequests` (GET /v1/items/{key}). */
export async function readItemPullRequests(sql: Sql, itemKey: string) {
  const rows = await loadPullRequests(sql, itemKey);
  return rows.map((r) => ({
    connection: r.connectionId,
    number: r.number,
    url: r.url,
    title: r.title,
    state: r.state,
    head: r.head,
    base: r.base,
    origin: r.origin,
    lastError: r.lastError,
    links: Object.fromEntries(Object.entries(r.links).map(([connection, link]) => [connection, { id: link.id, state: link.state }])),
  }));
}
