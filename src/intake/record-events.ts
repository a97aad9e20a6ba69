import { randomUUID } from 'node:crypto';
import type { Sql } from '../db/client.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import { SYNC_FIELDS, canonical, customField, sameValue, type FieldValues } from '../sync/fields.ts';
import type { ReconcileJobData } from '../queues/jobs.ts';
import { PULL_REQUEST_LINK_KEY } from '../config/schema.ts';
import { parsePullRequestRef } from '../trackers/github/pulls-transform.ts';
import { eventKey, type OrchestratorEvent } from './event-schema.ts';
import { recordForcedPushes } from '../sync/postgres/forced-push.ts';

export interface AcceptedEvent {
  id: string;
  key: string;
  version: number;
}

/** One api request's events, as recorded together with other requests' in one transaction. */
export interface EventsRequest {
  events: OrchestratorEvent[];
  requestId?: string;
  /** What the request's delivery row keeps (a summary: counts and keys, never the body). */
  request: Record<string, unknown>;
}

export interface RecordedEvents {
  /** Per request, in the order given: its delivery row and its accepted events. */
  requests: { deliveryId: string; accepted: AcceptedEvent[] }[];
  /** The (connection, item) pairs to reconcile once the transaction has committed. */
  reconciles: ReconcileJobData[];
}

export class EventRejectedError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

interface ItemRow {
  key: string;
  kind: string | null;
  desired: FieldValues;
  custom: Record<string, unknown>;
  version: number;
  deleted: boolean;
  existed: boolean;
  branch: string | null;
  pullRequestLink: string | null;
}

interface ActivityRow {
  item_key: string;
  actor: string;
  action: string;
  field: string | null;
  from_value: unknown;
  to_value: unknown;
  detail: Record<string, unknown>;
}

/**
 * Refuses links to connections that are not configured, and a `links.pull_request` that is not a
 * pull request number or that no connection could follow (a 400 naming the event), before
 * anything is written.
 */
export function checkLinks(events: OrchestratorEvent[], connections: ConnectionRegistry): void {
  for (const [i, event] of events.entries()) {
    if (event.type !== 'item.upserted' || !event.item.links) continue;
    for (const [connectionId, target] of Object.entries(event.item.links)) {
      if (connectionId === PULL_REQUEST_LINK_KEY) {
        if (parsePullRequestRef(target) === null) {
          throw new EventRejectedError(
            `events[${i}].item.links.${connectionId}`,
            `"${target}" is not a pull request (use "#123", 123 or the pull request's URL)`,
          );
        }
        if (!connections.all().some((c) => c.config.tracker === 'github' && c.config.pull_requests)) {
          throw new EventRejectedError(
            `events[${i}].item.links.${connectionId}`,
            'no github connection has [connections.pull_requests] to follow it',
          );
        }
        continue;
      }
      if (!connections.get(connectionId)) {
        throw new EventRejectedError(`events[${i}].item.links.${connectionId}`, `unknown connection "${connectionId}"`);
      }
    }
  }
}

/**
 * Records requests' events durably in one transaction (one request, or several that arrived
 * together: the api's group commit), applied in the order given as if each request had been
 * recorded alone after the one before: the items' new desired state and versions, the audit
 * trail, comments, the (item, connection) mappings still to sync, and one inbound delivery per
 * request. Nothing is enqueued here: the caller enqueues after commit, and the outbox sweep
 * re-enqueues whatever a crash in between left behind (mappings behind their item's version), so
 * an accepted event is never lost. `tx` must be a transaction: statements are pipelined on its
 * one connection.
 */
export async function recordEvents(tx: Sql, requests: EventsRequest[], connections: ConnectionRegistry): Promise<RecordedEvents> {
  for (const request of requests) checkLinks(request.events, connections);
  const events = requests.flatMap((r) => r.events);

  // Lock every item row this request touches, in key order so concurrent batches never deadlock.
  // Rows for new keys are created first (version 0) so that two requests creating the same new
  // item serialize on its row like any other. Every statement here has the same text whatever the
  // batch holds (the rows travel as one array or JSON parameter), so each connection prepares it
  // once; a `${tx(rows)}` list made a new statement, parsed and planned from scratch, for every
  // new batch size.
  const keys = [...new Set(events.map(eventKey))].sort();
  // Sent together (pipelined, one socket write): Postgres runs them in order, so the lock sees the new rows.
  const [, rows] = await Promise.all([
    tx`insert into items (key, version) select k, 0 from unnest(${keys}::text[]) as k on conflict (key) do nothing`,
    tx<
      {
        key: string;
        kind: string | null;
        desired: FieldValues;
        custom: Record<string, unknown>;
        version: string;
        deleted_at: Date | null;
        branch: string | null;
        pull_request_link: string | null;
      }[]
    >`
    select key, kind, desired, custom, version, deleted_at, branch, pull_request_link from items where key = any(${keys}::text[]) order by key for update`,
  ]);
  const state = new Map<string, ItemRow>(
    rows.map((r) => [
      r.key,
      {
        key: r.key,
        kind: r.kind,
        desired: r.desired ?? {},
        custom: r.custom ?? {},
        version: Number(r.version),
        deleted: r.deleted_at !== null,
        existed: Number(r.version) > 0,
        branch: r.branch,
        pullRequestLink: r.pull_request_link,
      },
    ]),
  );

  const activity: ActivityRow[] = [];
  const commentRows: { item_key: string; body: string; actor: string | null }[] = [];
  const links: { item_key: string; connection_id: string; link_to: string }[] = [];
  const acceptedBy: AcceptedEvent[][] = requests.map(() => []);
  /** Events with `force`: per item, the fields they push whatever the base says, and who sent them. */
  const forced = new Map<string, { fields: Record<string, unknown>; by: string | undefined }>();
  const owner = requests.flatMap((r, i) => r.events.map(() => i));

  for (const [index, event] of events.entries()) {
    const item = state.get(eventKey(event))!;
    const id = `evt_${randomUUID()}`;
    const detail: Record<string, unknown> = { event: id, ...(event.actor ? { by: event.actor } : {}) };
    item.version += 1;
    if (event.type === 'item.upserted') {
      const { key, kind, fields, links: eventLinks, branch, ...rest } = event.item;
      if (!item.existed) {
        activity.push({
          item_key: key,
          actor: 'orchestrator',
          action: 'item.created',
          field: null,
          from_value: null,
          to_value: null,
          detail,
        });
        item.existed = true;
      }
      if (item.deleted) {
        item.deleted = false;
        activity.push({
          item_key: key,
          actor: 'orchestrator',
          action: 'item.restored',
          field: null,
          from_value: null,
          to_value: null,
          detail,
        });
      }
      if (kind !== undefined && kind !== item.kind) {
        activity.push({
          item_key: key,
          actor: 'orchestrator',
          action: 'field.changed',
          field: 'kind',
          from_value: item.kind,
          to_value: kind,
          detail,
        });
        item.kind = kind;
      }
      for (const field of SYNC_FIELDS) {
        const value = (rest as FieldValues)[field];
        if (value === undefined) continue;
        const before = item.desired[field];
        if (before !== undefined && sameValue(field, before, value)) continue;
        const next = canonical(field, value as never);
        activity.push({
          item_key: key,
          actor: 'orchestrator',
          action: 'field.changed',
          field,
          from_value: before ?? null,
          to_value: next ?? null,
          detail,
        });
        (item.desired as Record<string, unknown>)[field] = next;
      }
      if (fields) {
        for (const [name, value] of Object.entries(fields)) {
          // Own properties only: a custom field named "constructor" or "toString" would otherwise
          // read Object.prototype's function as its old value (and fail the insert with a 500).
          const before = Object.hasOwn(item.custom, name) ? item.custom[name] : undefined;
          if (JSON.stringify(before) === JSON.stringify(value)) continue;
          activity.push({
            item_key: key,
            actor: 'orchestrator',
            action: 'field.changed',
            field: `fields.${name}`,
            from_value: before ?? null,
            to_value: value ?? null,
            detail,
          });
          // defineProperty: a field named "__proto__" is stored as a field, not as the object's prototype.
          Object.defineProperty(item.custom, name, { value, enumerable: true, writable: true, configurable: true });
        }
      }
      if (branch !== undefined && branch !== item.branch) {
        activity.push({
          item_key: key,
          actor: 'orchestrator',
          action: 'field.changed',
          field: 'branch',
          from_value: item.branch,
          to_value: branch,
          detail,
        });
        item.branch = branch;
      }
      for (const [connectionId, target] of Object.entries(eventLinks ?? {})) {
        if (connectionId === PULL_REQUEST_LINK_KEY) {
          const number = String(parsePullRequestRef(target));
          if (number !== item.pullRequestLink) {
            activity.push({
              item_key: key,
              actor: 'orchestrator',
              action: 'pull_request.linked',
              field: null,
              from_value: item.pullRequestLink,
              to_value: `#${number}`,
              detail,
            });
            item.pullRequestLink = number;
          }
          continue;
        }
        links.push({ item_key: key, connection_id: connectionId, link_to: String(target) });
        activity.push({
          item_key: key,
          actor: 'orchestrator',
          action: 'item.linked',
          field: null,
          from_value: null,
          to_value: String(target),
          detail: { ...detail, connection: connectionId },
        });
      }
      if (event.comment) commentRows.push({ item_key: key, body: event.comment, actor: event.actor ?? null });
      if (event.force) {
        const entry = forced.get(key) ?? { fields: {}, by: event.actor };
        for (const field of SYNC_FIELDS) if ((rest as FieldValues)[field] !== undefined) entry.fields[field] = item.desired[field];
        for (const name of Object.keys(fields ?? {})) entry.fields[customField(name)] = item.custom[name];
        forced.set(key, entry);
      }
    } else if (event.type === 'item.comment') {
      commentRows.push({ item_key: item.key, body: event.comment, actor: event.actor ?? null });
      activity.push({
        item_key: item.key,
        actor: 'orchestrator',
        action: 'comment.added',
        field: null,
        from_value: null,
        to_value: event.comment,
        detail,
      });
    } else {
      item.deleted = true;
      activity.push({
        item_key: item.key,
        actor: 'orchestrator',
        action: 'item.deleted',
        field: null,
        from_value: null,
        to_value: null,
        detail,
      });
    }
    acceptedBy[owner[index]].push({ id, key: item.key, version: item.version });
  }

  const updated = [...state.values()].map((i) => ({
    key: i.key,
    kind: i.kind,
    desired: i.desired,
    custom: i.custom,
    version: i.version,
    deleted: i.deleted,
    branch: i.branch,
    pull_request_link: i.pullRequestLink,
  }));

  // The mappings still to sync: one per item and connection that pushes it.
  const pairs = new Map<string, { item_key: string; connection_id: string }>();
  for (const item of state.values()) {
    for (const connection of connections.carrying(item.kind)) {
      if (connection.config.direction === 'pull') continue;
      pairs.set(`${connection.config.id}:${item.key}`, { item_key: item.key, connection_id: connection.config.id });
    }
  }
  for (const link of links)
    pairs.set(`${link.connection_id}:${link.item_key}`, { item_key: link.item_key, connection_id: link.connection_id });

  // Ids made here: one statement inserts every request's row, and each request needs its own id back.
  const deliveryIds = requests.map(() => randomUUID());
  const deliveries = requests.map((r, i) => {
    const itemKeys = [...new Set(r.events.map(eventKey))];
    return {
      id: deliveryIds[i],
      item_key: itemKeys.length === 1 ? itemKeys[0] : null,
      request: r.request,
      request_id: r.requestId ?? null,
    };
  });

  // The batch's writes in ONE statement (one round trip, one plan): the items' new state, the audit
  // trail, comments, mappings and one inbound delivery per request. The parts cannot see each
  // other's rows and need not: the item rows they reference exist since the insert above. Postgres
  // runs every part to completion though the final select reads none of them. Rows go in in array
  // order, so the trail keeps the events' order in its ids.
  // `limit`: the planner's row count for the JSON input (see src/support/statement-batch.ts).
  await tx`
    with updated as (
      update items i set desired = v.desired, custom = v.custom, kind = v.kind, version = v.version,
        deleted_at = case when v.deleted then coalesce(i.deleted_at, now()) else null end, updated_at = now(),
        branch = v.branch, pull_request_link = v.pull_request_link
      from (select * from jsonb_to_recordset(${tx.json(updated as never)})
        as v(key text, kind text, desired jsonb, custom jsonb, version bigint, deleted boolean, branch text, pull_request_link text)
        limit ${updated.length}) v
      where i.key = v.key),
    trail as (
      insert into activity (item_key, actor, action, field, from_value, to_value, detail)
      select a.item_key, a.actor, a.action, a.field, a.from_value, a.to_value, a.detail
      from jsonb_to_recordset(${tx.json(activity as never)})
        as a(item_key text, actor text, action text, field text, from_value jsonb, to_value jsonb, detail jsonb)),
    commented as (
      insert into comments (item_key, body, actor)
      select c.item_key, c.body, c.actor from jsonb_to_recordset(${tx.json(commentRows as never)}) as c(item_key text, body text, actor text)),
    mapped as (
      insert into mappings (item_key, connection_id)
      select m.item_key, m.connection_id from jsonb_to_recordset(${tx.json([...pairs.values()] as never)}) as m(item_key text, connection_id text)
      on conflict (item_key, connection_id) do nothing),
    delivered as (
      insert into deliveries (id, direction, kind, status, item_key, request, request_id, attempts)
      select d.id, 'in', 'event', 'accepted', d.item_key, d.request, d.request_id, 1
      from jsonb_to_recordset(${tx.json(deliveries as never)}) as d(id uuid, item_key text, request jsonb, request_id text))
    select 1`;
  if (forced.size) {
    const pushes = [...pairs.values()]
      .filter((p) => forced.has(p.item_key))
      .map((p) => ({ itemKey: p.item_key, connectionId: p.connection_id, fields: forced.get(p.item_key)!.fields }));
    for (const [key, f] of forced) {
      const mine = pushes.filter((p) => p.itemKey === key);
      if (mine.length)
        await recordForcedPushes(tx, mine, 'orchestrator', `forced by the event${f.by ? ` (${f.by})` : ''}`, { bumpVersion: false });
    }
  }
  for (const link of links) {
    // A link only applies while no remote issue is mapped yet; a mapped item keeps its issue.
    await tx`update mappings set link_to = ${link.link_to}, updated_at = now()
      where item_key = ${link.item_key} and connection_id = ${link.connection_id} and remote_id is null`;
  }

  const requestIdByKey = new Map<string, string | undefined>();
  for (const r of requests) for (const e of r.events) if (!requestIdByKey.has(eventKey(e))) requestIdByKey.set(eventKey(e), r.requestId);
  return {
    requests: requests.map((r, i) => ({ deliveryId: deliveryIds[i], accepted: acceptedBy[i] })),
    reconciles: [...pairs.values()].map((p) => ({
      connectionId: p.connection_id,
      itemKey: p.item_key,
      reason: 'event' as const,
      readRemote: false,
      // The first request that touched the item: its id follows the change into the job's logs.
      requestId: requestIdByKey.get(p.item_key),
    })),
  };
}
