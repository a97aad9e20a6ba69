import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

/**
 * items: the orchestrator's work items. Holds the latest desired state (only the fields ever
 * asserted) and a version that grows with every event, so a reconcile can tell whether what it
 * synced is still the latest (no lost update).
 */
export const items = pgTable('items', {
  key: text('key').primaryKey(),
  kind: text('kind'),
  desired: jsonb('desired').$type<Record<string, unknown>>().notNull().default({}),
  /** Custom fields (`fields` in an event), kept apart from the synced core fields. */
  custom: jsonb('custom').$type<Record<string, unknown>>().notNull().default({}),
  version: bigint('version', { mode: 'number' }).notNull().default(1),
  deletedAt: timestamp('deleted_at', { withTimezone: true }),
  /** The git branch the item's work is on (`item.branch`): a pull request is opened from it. */
  branch: text('branch'),
  /** `links.pull_request` of an event: an existing pull request (its number) that carries the item. */
  pullRequestLink: text('pull_request_link'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * mappings: one row per (item, connection). Exists from the first event for an item a connection
 * carries, before any remote issue: `synced_version < items.version` is the durable to-do list
 * that the outbox sweep re-enqueues after a crash. The base is what both sides agreed on at the
 * last successful sync (three-way diff, echo suppression).
 */
export const mappings = pgTable(
  'mappings',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    itemKey: text('item_key')
      .notNull()
      .references(() => items.key),
    connectionId: text('connection_id').notNull(),
    remoteId: text('remote_id'),
    /** Human key: Plane `ET-12`, GitHub `42`, Jira `ET-3`. */
    remoteKey: text('remote_key'),
    remoteUrl: text('remote_url'),
    /** Set by an event's `links`: attach to this existing remote issue instead of creating one. */
    linkTo: text('link_to'),
    base: jsonb('base').$type<Record<string, unknown>>(),
    /** pending | creating | synced | error | conflict | deleted */
    status: text('status').notNull().default('pending'),
    syncedVersion: bigint('synced_version', { mode: 'number' }).notNull().default(0),
    /** The item version whose sync failed for good; the outbox sweep does not retry it. */
    failedVersion: bigint('failed_version', { mode: 'number' }).notNull().default(0),
    /** Id of the last comment delivered to this connection (comments are an ordered log). */
    commentCursor: bigint('comment_cursor', { mode: 'number' }).notNull().default(0),
    /** Recorded before the create call: a retry that finds it set looks the issue up first. */
    createIntentAt: timestamp('create_intent_at', { withTimezone: true }),
    /**
     * Recorded before an update call, cleared with the new base: { local, remote } values being
     * pushed. If the worker dies after the tracker took the write but before the base was saved,
     * the next reconcile reads the issue, recognises its own write and moves the base to it, so a
     * later change back to the old value is still pushed (no lost update).
     */
    pendingPush: jsonb('pending_push').$type<Record<string, unknown>>(),
    lastSyncedAt: timestamp('last_synced_at', { withTimezone: true }),
    lastError: text('last_error'),
    remoteUpdatedAt: text('remote_updated_at'),
    /**
     * Set when a webhook or a poll says the remote issue changed; the next reconcile reads the
     * remote before diffing and clears it. Kept here rather than in the job so a request to pull
     * survives being coalesced into an already-queued push, and restarts.
     */
    remoteChangedAt: timestamp('remote_changed_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('mappings_item_connection').on(t.itemKey, t.connectionId),
    uniqueIndex('mappings_connection_remote').on(t.connectionId, t.remoteId),
    index('mappings_pending').on(t.connectionId, t.status),
    /** The outbox sweep's flagged pass (migration 0013): only the rows with a remote change to read. */
    index('mappings_remote_changed').on(t.remoteChangedAt).where(sql`${t.remoteChangedAt} is not null`),
  ],
);

/** comments: the orchestrator's comments on items, delivered in order to every connection. */
export const comments = pgTable(
  'comments',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    itemKey: text('item_key')
      .notNull()
      .references(() => items.key),
    body: text('body').notNull(),
    actor: text('actor'),
    createdAt: createdAt(),
  },
  (t) => [index('comments_item').on(t.itemKey, t.id)],
);

/**
 * deliveries: every inbound request (orchestrator events, tracker webhooks) and every outbound
 * job run (reconciles, callbacks), with status, attempts and the last error, so an operator can
 * see what happened without reading logs. Requests are stored with secrets redacted.
 */
export const deliveries = pgTable(
  'deliveries',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    direction: text('direction').notNull(), // in | out
    /** event | webhook | reconcile | callback | poll */
    kind: text('kind').notNull(),
    connectionId: text('connection_id'),
    itemKey: text('item_key'),
    /** Stable key from the sender (webhook delivery id, job id) used to drop duplicates. */
    dedupKey: text('dedup_key'),
    /** received | queued | processing | succeeded | failed | duplicate | rejected | skipped */
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    request: jsonb('request').$type<Record<string, unknown>>(),
    result: jsonb('result').$type<Record<string, unknown>>(),
    /** One entry per attempt: when it started and ended, how it ended (tracker calls are matched by time). */
    attemptLog: jsonb('attempt_log')
      .$type<Array<{ attempt: number; startedAt: string; endedAt?: string; status?: string; error?: string }>>()
      .notNull()
      .default([]),
    jobId: text('job_id'),
    requestId: text('request_id'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('deliveries_dedup').on(t.direction, t.connectionId, t.dedupKey),
    index('deliveries_status').on(t.status, t.createdAt),
    // Only rows that name an item (a webhook's has none); every query by item_key compares it with a value.
    index('deliveries_item').on(t.itemKey, t.createdAt).where(sql`${t.itemKey} is not null`),
    index('deliveries_created').on(t.createdAt),
  ],
);

/**
 * tracker_calls: every HTTP call to a tracker: what, how long, what the tracker said about its
 * budget. No secrets: only method, path (no query string values that could hold tokens) and the
 * rate-limit headers.
 */
export const trackerCalls = pgTable(
  'tracker_calls',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deliveryId: uuid('delivery_id'),
    connectionId: text('connection_id').notNull(),
    method: text('method').notNull(),
    path: text('path').notNull(),
    status: integer('status'),
    durationMs: integer('duration_ms').notNull(),
    rateLimit: jsonb('rate_limit').$type<Record<string, string>>(),
    error: text('error'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('tracker_calls_delivery').on(t.deliveryId), index('tracker_calls_connection').on(t.connectionId, t.at)],
);

/** conflicts: both sides changed a field differently; settled by a strategy or waiting (manual). */
export const conflicts = pgTable(
  'conflicts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    itemKey: text('item_key').notNull(),
    connectionId: text('connection_id').notNull(),
    field: text('field').notNull(),
    baseValue: jsonb('base_value'),
    localValue: jsonb('local_value'),
    remoteValue: jsonb('remote_value'),
    /** open | resolved */
    status: text('status').notNull().default('open'),
    /** local | remote | merged */
    resolution: text('resolution'),
    resolvedBy: text('resolved_by'),
    reason: text('reason'),
    createdAt: createdAt(),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    /**
     * When the pair's reconcile carried the resolution out. Only the reconcile changes a pair's
     * base (it runs one at a time per pair), so an operator's resolution is recorded here first
     * and applied by the next reconcile, never written into the base from the api.
     */
    appliedAt: timestamp('applied_at', { withTimezone: true }),
  },
  (t) => [index('conflicts_status').on(t.status, t.id), index('conflicts_item').on(t.itemKey, t.connectionId)],
);

/** changes: the ordered feed of remote changes for the orchestrator (`GET /v1/changes`). */
export const changes = pgTable(
  'changes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    itemKey: text('item_key').notNull(),
    connectionId: text('connection_id').notNull(),
    type: text('type').notNull().default('item.changed'),
    fields: jsonb('fields').$type<Record<string, { from: unknown; to: unknown }>>().notNull().default({}),
    comment: text('comment'),
    actor: text('actor'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    /** When the signed callback was answered 2xx; null while pending (or with no callback URL). */
    notifiedAt: timestamp('notified_at', { withTimezone: true }),
    /** The callback's outcome when not delivered: refused (409) or failed after its retries. */
    callbackStatus: text('callback_status'),
    /** For `item.pr_changed`: { number, url, title, from, to } (the pull request's state before and after). */
    pullRequest: jsonb('pull_request').$type<Record<string, unknown>>(),
  },
  (t) => [index('changes_item').on(t.itemKey), index('changes_pending_callback').on(t.notifiedAt, t.id)],
);

/**
 * pull_requests: an item's pull requests on a `github` connection. A row exists from the moment
 * Trackline means to open one (the create intent, before the call) or learns of one (a link, a
 * person's "Closes #N", a pull request from the item's branch), so opening is exactly-once across
 * crashes. `links` records, per other connection, the link written there, so it is written once
 * and rewritten only when the title or state changes.
 */
export const pullRequests = pgTable(
  'pull_requests',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    itemKey: text('item_key')
      .notNull()
      .references(() => items.key),
    connectionId: text('connection_id').notNull(),
    /** Null until GitHub answered (or the pull request was found). */
    number: integer('number'),
    url: text('url'),
    title: text('title'),
    /** draft | open | approved | changes_requested | merged | closed */
    state: text('state'),
    head: text('head').notNull(),
    base: text('base'),
    /** opened (by Trackline) | branch (a person's, from the item's branch) | linked (links.pull_request) | closes (a person's "Closes #N") */
    origin: text('origin').notNull(),
    /** Recorded before the create call: a retry that finds it set looks the pull request up first. */
    createIntentAt: timestamp('create_intent_at', { withTimezone: true }),
    reviewersRequestedAt: timestamp('reviewers_requested_at', { withTimezone: true }),
    /** Set by a webhook or a poll: the next reconcile of the pair reads the pull request. */
    remoteChangedAt: timestamp('remote_changed_at', { withTimezone: true }),
    /** Who made the last change a webhook reported (for the change feed's actor). */
    remoteActor: text('remote_actor'),
    remoteUpdatedAt: text('remote_updated_at'),
    lastError: text('last_error'),
    /** `head → base` whose opening GitHub refused for good; not tried again until either changes. */
    failedFor: text('failed_for'),
    /** connection id -> { id, title, state } of the link written on that connection's issue. */
    links: jsonb('links').$type<Record<string, { id: string; title: string; state: string }>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('pull_requests_connection_number').on(t.connectionId, t.number),
    uniqueIndex('pull_requests_item_head').on(t.itemKey, t.connectionId, t.head),
    index('pull_requests_changed').on(t.remoteChangedAt),
  ],
);

/**
 * activity: the append-only audit trail. A trigger (see the migration) rejects UPDATE, DELETE and
 * TRUNCATE, so the trail cannot be rewritten even by a bug in Trackline.
 */
export const activity = pgTable(
  'activity',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    itemKey: text('item_key').notNull(),
    /** orchestrator | sync:<connection> | operator:<name> | strategy:<name> */
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    connectionId: text('connection_id'),
    field: text('field'),
    fromValue: jsonb('from_value'),
    toValue: jsonb('to_value'),
    detail: jsonb('detail').$type<Record<string, unknown>>(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('activity_item').on(t.itemKey, t.id)],
);

/** idempotency_keys: the first answer to a request with an `Idempotency-Key`, replayed on retry. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    key: text('key').notNull(),
    /** Which API token used it (a hash, never the token), so keys of two clients never collide. */
    principal: text('principal').notNull(),
    requestHash: text('request_hash').notNull(),
    status: integer('status').notNull(),
    response: jsonb('response').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.principal, t.key] })],
);

/** sync_cursors: durable per-connection watermarks (polling) and checkpoints (CLI sync). */
export const syncCursors = pgTable(
  'sync_cursors',
  {
    connectionId: text('connection_id').notNull(),
    name: text('name').notNull(),
    value: jsonb('value').notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.connectionId, t.name] })],
);

export const schema = {
  items,
  mappings,
  comments,
  deliveries,
  trackerCalls,
  conflicts,
  changes,
  activity,
  idempotencyKeys,
  syncCursors,
  pullRequests,
};
