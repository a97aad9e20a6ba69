import type { SyncBase } from '../../src/sync/base.ts';
import { keepConcurrentChanges } from '../../src/sync/concurrent-pull.ts';
import { canonical, fieldNames, isCustomField, sameValue, type FieldName, type FieldValues } from '../../src/sync/fields.ts';
import {
  ConflictClosedError,
  ConflictNotFoundError,
  type AuditBy,
  type ImportedItem,
  type LoadedPair,
  type MappingRef,
  type PendingComment,
  type PendingPush,
  type PushedResult,
  type ReconciledResult,
  type Resolution,
  type SyncStore,
} from '../../src/sync/port/store.ts';
import type { RemoteIssue } from '../../src/sync/port/tracker.ts';
import type { VirtualClock } from './clock.ts';

/**
 * The engine's storage in memory, with the Postgres store's contract (src/sync/port/store.ts):
 * each method is atomic (the simulation runs one step at a time), values go in and come out as
 * jsonb would keep them (a JSON round trip: no shared objects, undefined keys dropped), "now" is
 * the virtual clock, and the unique (connection, remote id) index is enforced.
 */

interface ItemRow {
  key: string;
  kind: string | null;
  desired: FieldValues;
  version: number;
  deletedAt: number | null;
  updatedAt: number;
}

export interface MappingRow {
  id: number;
  itemKey: string;
  connectionId: string;
  remoteId: string | null;
  remoteKey: string | null;
  remoteUrl: string | null;
  linkTo: string | null;
  base: SyncBase | null;
  status: string;
  syncedVersion: number;
  commentCursor: number;
  createIntentAt: number | null;
  remoteChangedAt: number | null;
  pendingPush: PendingPush | null;
  lastError: string | null;
  remoteUpdatedAt: string | null;
  updatedAt: number;
}

export interface ConflictRow {
  id: number;
  itemKey: string;
  connectionId: string;
  field: string;
  base: unknown;
  local: unknown;
  remote: unknown;
  status: 'open' | 'resolved';
  resolution: string | null;
  resolvedBy: string | null;
  appliedAt: number | null;
  reason: string;
}

export interface ActivityRow {
  id: number;
  itemKey: string;
  actor: string;
  action: string;
  connectionId: string | null;
  field: string | null;
  from: unknown;
  to: unknown;
  detail: Record<string, unknown> | null;
}

export interface ChangeRow {
  id: number;
  itemKey: string;
  connectionId: string;
  type: string;
  fields: Record<string, { from: unknown; to: unknown }> | null;
  comment: string | null;
  actor: string | null;
}

/**
 * What jsonb keeps of a value: a deep copy (the engine shares no object with the store) without
 * undefined properties. Hand-written instead of a JSON round trip, which took a sixth of a run.
 */
function json<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : json(v))) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = json(v);
  return out as T;
}

export class UniqueViolation extends Error {}

export class MemoryStore implements SyncStore {
  readonly items = new Map<string, ItemRow>();
  readonly mappings = new Map<number, MappingRow>();
  readonly comments: { id: number; itemKey: string; body: string; actor: string | null }[] = [];
  readonly conflicts: ConflictRow[] = [];
  readonly activity: ActivityRow[] = [];
  readonly changes: ChangeRow[] = [];
  private seq = 0;

  constructor(private readonly clock: VirtualClock) {}

  private next(): number {
    return ++this.seq;
  }

  // ------------------------------------------------------------------ the orchestrator's intake
  // Not part of the port: what POST /v1/events does to these rows (src/intake/record-events.ts).

  upsertItem(key: string, patch: FieldValues, connectionIds: string[]): number {
    const now = this.clock.now();
    let item = this.items.get(key);
    if (!item) {
      item = { key, kind: null, desired: {}, version: 0, deletedAt: null, updatedAt: now };
      this.items.set(key, item);
      this.addActivity(key, 'orchestrator', 'item.created', null, null, null, null, null);
    }
    item.version += 1;
    if (item.deletedAt !== null) {
      item.deletedAt = null;
      this.addActivity(key, 'orchestrator', 'item.restored', null, null, null, null, null);
    }
    for (const f of fieldNames(patch)) {
      const value = patch[f];
      if (value === undefined) continue;
      const before = item.desired[f];
      if (isCustomField(f)) {
        // The intake keeps a custom field's value as sent (items.custom; the engine sees it flattened
        // as `fields.<name>`, itemFieldValues): compared as JSON, not canonicalised.
        if (JSON.stringify(before) === JSON.stringify(value)) continue;
        this.addActivity(key, 'orchestrator', 'field.changed', null, f, before ?? null, value ?? null, null);
        (item.desired as Record<string, unknown>)[f] = json(value);
        continue;
      }
      if (before !== undefined && sameValue(f, before, value)) continue;
      this.addActivity(key, 'orchestrator', 'field.changed', null, f, before ?? null, canonical(f, value as never) ?? null, null);
      (item.desired as Record<string, unknown>)[f] = json(canonical(f, value as never));
    }
    item.updatedAt = now;
    for (const connectionId of connectionIds) this.ensureMapping(key, connectionId);
    return item.version;
  }

  addComment(key: string, body: string): void {
    const item = this.items.get(key)!;
    item.version += 1;
    item.updatedAt = this.clock.now();
    this.comments.push({ id: this.next(), itemKey: key, body, actor: 'orchestrator' });
    this.addActivity(key, 'orchestrator', 'comment.added', null, null, null, body, null);
  }

  deleteItem(key: string): void {
    const item = this.items.get(key)!;
    item.version += 1;
    item.deletedAt ??= this.clock.now();
    item.updatedAt = this.clock.now();
    this.addActivity(key, 'orchestrator', 'item.deleted', null, null, null, null, null);
  }

  private ensureMapping(itemKey: string, connectionId: string): void {
    for (const m of this.mappings.values()) if (m.itemKey === itemKey && m.connectionId === connectionId) return;
    const id = this.next();
    this.mappings.set(id, {
      id,
      itemKey,
      connectionId,
      remoteId: null,
      remoteKey: null,
      remoteUrl: null,
      linkTo: null,
      base: null,
      status: 'pending',
      syncedVersion: 0,
      commentCursor: 0,
      createIntentAt: null,
      remoteChangedAt: null,
      pendingPush: null,
      lastError: null,
      remoteUpdatedAt: null,
      updatedAt: this.clock.now(),
    });
  }

  mappingOf(itemKey: string, connectionId: string): MappingRow | undefined {
    for (const m of this.mappings.values()) if (m.itemKey === itemKey && m.connectionId === connectionId) return m;
    return undefined;
  }

  // ------------------------------------------------------------------------------------ the port

  async loadPair(itemKey: string, connectionId: string): Promise<LoadedPair> {
    const item = this.items.get(itemKey);
    if (!item) return { item: null, mapping: null, heldFields: new Set(), resolutions: [], newComments: false };
    const m = this.mappingOf(itemKey, connectionId);
    const mine = this.conflicts.filter((c) => c.itemKey === itemKey && c.connectionId === connectionId);
    return {
      item: { key: item.key, kind: item.kind, desired: json(item.desired), version: item.version, deleted: item.deletedAt !== null },
      mapping: m
        ? {
            id: m.id,
            remoteId: m.remoteId,
            remoteKey: m.remoteKey,
            linkTo: m.linkTo,
            base: json(m.base),
            status: m.status,
            syncedVersion: m.syncedVersion,
            commentCursor: m.commentCursor,
            createIntentAt: m.createIntentAt === null ? null : new Date(m.createIntentAt),
            remoteChangedAt: m.remoteChangedAt === null ? null : new Date(m.remoteChangedAt),
            pendingPush: json(m.pendingPush),
          }
        : null,
      heldFields: new Set(mine.filter((c) => c.status === 'open').map((c) => c.field as FieldName)),
      resolutions: mine
        .filter((c) => c.status === 'resolved' && c.appliedAt === null && (c.resolution === 'local' || c.resolution === 'remote'))
        .map((c) => ({ id: c.id, field: c.field, use: c.resolution as 'local' | 'remote', remoteValue: json(c.remote) })),
      newComments: m ? this.comments.some((c) => c.itemKey === itemKey && c.id > m.commentCursor) : false,
    };
  }

  async itemVersion(itemKey: string): Promise<number | null> {
    return this.items.get(itemKey)?.version ?? null;
  }

  async stopPair(mappingId: number, version: number, by: AuditBy, detail: Record<string, unknown>): Promise<void> {
    const m = this.mapping(mappingId);
    this.addActivity(by.itemKey, by.actor, 'sync.stopped', by.connectionId, null, null, null, detail);
    if (!m) return;
    m.status = 'deleted';
    m.syncedVersion = version;
    m.updatedAt = this.clock.now();
  }

  async markSynced(mappingId: number, version: number): Promise<void> {
    const m = this.mapping(mappingId);
    if (m) m.syncedVersion = version;
  }

  async markUnmapped(mappingId: number, version: number): Promise<void> {
    const m = this.mapping(mappingId);
    if (!m) return;
    m.status = 'unmapped';
    m.syncedVersion = version;
    m.updatedAt = this.clock.now();
  }

  async remoteHolder(mappingId: number, remoteId: string): Promise<string | null> {
    const me = this.mapping(mappingId);
    if (!me) return null;
    for (const m of this.mappings.values())
      if (m.connectionId === me.connectionId && m.remoteId === remoteId && m.id !== mappingId) return m.itemKey;
    return null;
  }

  async recordLinked(mappingId: number, remote: RemoteIssue, base: SyncBase, by: AuditBy): Promise<void> {
    this.checkUnique(mappingId, remote.id);
    this.addActivity(by.itemKey, by.actor, 'remote.linked', by.connectionId, null, null, null, { remote: remote.key, url: remote.url });
    const m = this.mapping(mappingId);
    if (!m) return;
    Object.assign(m, {
      remoteId: remote.id,
      remoteKey: remote.key,
      remoteUrl: remote.url,
      base: json(base),
      status: 'synced',
      remoteUpdatedAt: remote.updatedAt ?? null,
      updatedAt: this.clock.now(),
    });
  }

  async recordCreateIntent(mappingId: number): Promise<void> {
    const m = this.mapping(mappingId);
    if (!m) return;
    m.createIntentAt = this.clock.now();
    m.status = 'creating';
    m.updatedAt = this.clock.now();
  }

  async clearCreateIntent(mappingId: number): Promise<void> {
    const m = this.mapping(mappingId);
    if (!m || m.status !== 'creating' || m.remoteId) return;
    m.createIntentAt = null;
    m.status = 'pending';
    m.updatedAt = this.clock.now();
  }

  async recordCreated(
    mappingId: number,
    remote: RemoteIssue,
    base: SyncBase,
    version: number,
    held: string | null,
    by: AuditBy,
  ): Promise<void> {
    this.checkUnique(mappingId, remote.id);
    this.addActivity(
      by.itemKey,
      by.actor,
      'remote.created',
      by.connectionId,
      null,
      null,
      null,
      json({ remote: remote.key, url: remote.url, fields: remote.fields }),
    );
    const m = this.mapping(mappingId);
    if (!m) return;
    Object.assign(m, {
      remoteId: remote.id,
      remoteKey: remote.key,
      remoteUrl: remote.url,
      base: json(base),
      status: held ? 'conflict' : 'synced',
      syncedVersion: version,
      lastError: held,
      remoteUpdatedAt: remote.updatedAt ?? null,
      updatedAt: this.clock.now(),
    });
  }

  async openConflict(by: AuditBy, field: FieldName, local: unknown, remote: unknown, reason: string): Promise<void> {
    this.conflicts.push({
      id: this.next(),
      itemKey: by.itemKey,
      connectionId: by.connectionId,
      field,
      base: null,
      local: json(local ?? null),
      remote: json(remote ?? null),
      status: 'open',
      resolution: null,
      resolvedBy: null,
      appliedAt: null,
      reason,
    });
  }

  async audit(itemKey: string, actor: string, action: string, connectionId: string | null, detail: Record<string, unknown>): Promise<void> {
    this.addActivity(itemKey, actor, action, connectionId, null, null, null, json(detail));
  }

  async recordPendingPush(mappingId: number, intent: PendingPush): Promise<void> {
    const m = this.mapping(mappingId);
    if (m) m.pendingPush = json(intent);
  }

  async recordPushed(r: PushedResult): Promise<number | undefined> {
    const m = this.mapping(r.mappingId);
    if (!m) return undefined;
    for (const p of r.pushed)
      this.addActivity(r.itemKey, r.actor, 'field.pushed', r.connectionId, p.field, p.from_value ?? null, p.to_value ?? null, null);
    Object.assign(m, {
      base: json(r.nextBase),
      syncedVersion: Math.max(m.syncedVersion, r.version),
      status: 'synced',
      lastError: null,
      pendingPush: null,
      remoteKey: r.remote.key ?? m.remoteKey,
      remoteUrl: r.remote.url ?? m.remoteUrl,
      remoteUpdatedAt: r.remote.updatedAt ?? m.remoteUpdatedAt,
      updatedAt: this.clock.now(),
    });
    return this.items.get(r.itemKey)?.version;
  }

  async recordReconciled(given: ReconciledResult): Promise<number | null> {
    let r = given;
    let version = r.version;
    let changeId: number | null = null;
    // An event that changed the item after the pass read it keeps what it changed (store.ts).
    const overtaken = r.pulled.length > 0 && this.items.get(r.itemKey)!.version !== r.version;
    if (overtaken) {
      const kept = keepConcurrentChanges(r.pulled, r.nextBase, this.items.get(r.itemKey)!.desired, this.mapping(r.mappingId)?.base ?? null);
      r = { ...r, pulled: kept.pulled, nextBase: kept.nextBase };
    }
    if (r.pulled.length) {
      const item = this.items.get(r.itemKey)!;
      for (const [f, c] of r.pulled) (item.desired as Record<string, unknown>)[f] = json(c.to);
      item.version += 1;
      item.updatedAt = this.clock.now();
      version = overtaken ? r.version : item.version;
      for (const [f, c] of r.pulled)
        this.addActivity(r.itemKey, r.actor, 'field.pulled', r.connectionId, f, c.from ?? null, c.to ?? null, null);
      changeId = this.addChange(
        r.itemKey,
        r.connectionId,
        'item.updated',
        json(Object.fromEntries(r.pulled)),
        null,
        r.remote.updatedBy ?? r.actor,
      );
      for (const other of this.mappings.values())
        if (other.itemKey === r.itemKey && other.connectionId !== r.connectionId) other.updatedAt = this.clock.now();
    }
    for (const p of r.pushed)
      this.addActivity(r.itemKey, r.actor, 'field.pushed', r.connectionId, p.field, p.from_value ?? null, p.to_value ?? null, null);
    for (const c of r.conflicts) {
      const open = c.outcome === 'open';
      this.conflicts.push({
        id: this.next(),
        itemKey: r.itemKey,
        connectionId: r.connectionId,
        field: c.field,
        base: json(c.base ?? null),
        local: json(c.local ?? null),
        remote: json(c.remote ?? null),
        status: open ? 'open' : 'resolved',
        resolution: open ? null : c.outcome,
        resolvedBy: open ? null : `strategy:${c.strategy}`,
        appliedAt: open ? null : this.clock.now(),
        reason: c.reason,
      });
      this.addActivity(
        r.itemKey,
        open ? r.actor : `strategy:${c.strategy}`,
        open ? 'conflict.opened' : 'conflict.resolved',
        r.connectionId,
        c.field,
        c.local ?? null,
        c.remote ?? null,
        json({ base: c.base ?? null, outcome: c.outcome }),
      );
    }
    for (const c of this.conflicts) if (r.resolutionIds.includes(c.id)) c.appliedAt = this.clock.now();
    const m = this.mapping(r.mappingId);
    if (m && r.fields) {
      // Only these fields' part of the base; the pair stays due for the rest (store.ts contract).
      const base = json(m.base ?? { local: {}, remote: {} }) as SyncBase;
      for (const f of r.fields) {
        for (const half of ['local', 'remote'] as const) {
          const next = (r.nextBase[half] as Record<string, unknown>)[f];
          if (next === undefined) delete (base[half] as Record<string, unknown>)[f];
          else (base[half] as Record<string, unknown>)[f] = json(next);
        }
      }
      const open = r.status === 'conflict';
      Object.assign(m, {
        base,
        syncedVersion: version === r.version + 1 && m.syncedVersion >= r.version ? version : m.syncedVersion,
        status: open ? 'conflict' : m.status,
        lastError: open ? r.lastError : m.lastError,
        pendingPush: null,
        remoteKey: r.remote.key ?? m.remoteKey,
        remoteUrl: r.remote.url ?? m.remoteUrl,
        updatedAt: this.clock.now(),
      });
    } else if (m) {
      Object.assign(m, {
        base: json(r.nextBase),
        syncedVersion: Math.max(m.syncedVersion, version),
        status: r.status,
        lastError: r.lastError,
        pendingPush: null,
        remoteKey: r.remote.key ?? m.remoteKey,
        remoteUrl: r.remote.url ?? m.remoteUrl,
        remoteUpdatedAt: r.remote.updatedAt ?? m.remoteUpdatedAt,
        updatedAt: this.clock.now(),
      });
    }
    return changeId;
  }

  async flagRemoteChange(mappingId: number): Promise<void> {
    const m = this.mapping(mappingId);
    if (!m) return;
    m.remoteChangedAt = this.clock.now();
    m.remoteUpdatedAt = null;
  }

  async clearRemoteChange(mappingId: number, seenAt: Date): Promise<void> {
    const m = this.mapping(mappingId);
    if (m && m.remoteChangedAt !== null && m.remoteChangedAt <= seenAt.getTime()) m.remoteChangedAt = null;
  }

  async pendingComments(itemKey: string, after: number, limit: number): Promise<PendingComment[]> {
    return this.comments
      .filter((c) => c.itemKey === itemKey && c.id > after)
      .slice(0, limit)
      .map((c) => ({ id: c.id, body: c.body, actor: c.actor }));
  }

  async countPendingComments(itemKey: string, after: number): Promise<number> {
    return this.comments.filter((c) => c.itemKey === itemKey && c.id > after).length;
  }

  async advanceCommentCursor(itemKey: string, connectionId: string, commentId: number): Promise<void> {
    const m = this.mappingOf(itemKey, connectionId);
    if (m) m.commentCursor = commentId;
  }

  async findMappingByRemote(connectionId: string, remoteId: string): Promise<MappingRef | null> {
    for (const m of this.mappings.values()) {
      if (m.connectionId === connectionId && m.remoteId === remoteId) {
        return {
          itemKey: m.itemKey,
          remoteKey: m.remoteKey,
          status: m.status,
          remoteUpdatedAt: m.remoteUpdatedAt,
          base: json(m.base),
          heldFields: [
            ...new Set(
              this.conflicts
                .filter((c) => c.itemKey === m.itemKey && c.connectionId === connectionId && c.status === 'open')
                .map((c) => c.field),
            ),
          ],
        };
      }
    }
    return null;
  }

  async markRemoteChanged(connectionId: string, itemKey: string): Promise<void> {
    const m = this.mappingOf(itemKey, connectionId);
    if (!m) return;
    m.remoteChangedAt = this.clock.now();
    m.updatedAt = this.clock.now();
  }

  async markRemoteDeleted(connectionId: string, remoteId: string, actor: string | undefined): Promise<number[]> {
    for (const m of this.mappings.values()) {
      if (m.connectionId !== connectionId || m.remoteId !== remoteId || m.status === 'remote_deleted') continue;
      m.status = 'remote_deleted';
      m.updatedAt = this.clock.now();
      this.addActivity(m.itemKey, `sync:${connectionId}`, 'remote.deleted', connectionId, null, null, null, {
        remote: m.remoteKey,
        by: actor ?? null,
      });
      return [this.addChange(m.itemKey, connectionId, 'item.remote_deleted', null, null, actor ?? `sync:${connectionId}`)];
    }
    return [];
  }

  async recordRemoteComment(connectionId: string, itemKey: string, body: string, actor: string | undefined): Promise<number[]> {
    this.addActivity(itemKey, `sync:${connectionId}`, 'comment.pulled', connectionId, null, null, body, { by: actor ?? null });
    return [this.addChange(itemKey, connectionId, 'item.commented', null, body, actor ?? null)];
  }

  async importItem(imported: ImportedItem): Promise<number | null> {
    if (this.items.has(imported.itemKey)) return null;
    const now = this.clock.now();
    this.items.set(imported.itemKey, {
      key: imported.itemKey,
      kind: null,
      desired: json(imported.local),
      version: 1,
      deletedAt: null,
      updatedAt: now,
    });
    const id = this.next();
    this.mappings.set(id, {
      id,
      itemKey: imported.itemKey,
      connectionId: imported.connectionId,
      remoteId: imported.remote.id,
      remoteKey: imported.remote.key,
      remoteUrl: imported.remote.url,
      linkTo: null,
      base: json({ local: imported.local, remote: imported.remote.fields }),
      status: 'synced',
      syncedVersion: 1,
      commentCursor: 0,
      createIntentAt: null,
      remoteChangedAt: null,
      pendingPush: null,
      lastError: null,
      remoteUpdatedAt: imported.remote.updatedAt ?? null,
      updatedAt: now,
    });
    for (const other of imported.carriers) this.ensureMapping(imported.itemKey, other);
    this.addActivity(
      imported.itemKey,
      `sync:${imported.connectionId}`,
      'item.imported',
      imported.connectionId,
      null,
      null,
      null,
      json(imported.activity),
    );
    return this.addChange(
      imported.itemKey,
      imported.connectionId,
      'item.created',
      json(imported.changeFields),
      null,
      `sync:${imported.connectionId}`,
    );
  }

  async resolveConflict(id: number, use: 'local' | 'remote', actor: string): Promise<Resolution> {
    const c = this.conflicts.find((x) => x.id === id);
    if (!c) throw new ConflictNotFoundError(`no conflict ${id}`);
    if (c.status !== 'open') throw new ConflictClosedError(`conflict ${id} is already ${c.status}`);
    c.status = 'resolved';
    c.resolution = use;
    c.resolvedBy = actor;
    const item = this.items.get(c.itemKey)!;
    item.version += 1;
    item.updatedAt = this.clock.now();
    this.addActivity(c.itemKey, actor, 'conflict.resolved', c.connectionId, c.field, c.local, c.remote, { conflict: id, use });
    return { itemKey: c.itemKey, connectionId: c.connectionId, field: c.field };
  }

  // --------------------------------------------------------------------------------- internals

  private mapping(id: number): MappingRow | undefined {
    return this.mappings.get(id);
  }

  private checkUnique(mappingId: number, remoteId: string): void {
    const me = this.mappings.get(mappingId);
    for (const m of this.mappings.values()) {
      if (me && m.id !== mappingId && m.connectionId === me.connectionId && m.remoteId === remoteId) {
        throw new UniqueViolation(`duplicate key value violates unique constraint "mappings_connection_remote" (${remoteId})`);
      }
    }
  }

  private addActivity(
    itemKey: string,
    actor: string,
    action: string,
    connectionId: string | null,
    field: string | null,
    from: unknown,
    to: unknown,
    detail: Record<string, unknown> | null,
  ): void {
    this.activity.push({ id: this.next(), itemKey, actor, action, connectionId, field, from: json(from), to: json(to), detail });
  }

  private addChange(
    itemKey: string,
    connectionId: string,
    type: string,
    fields: ChangeRow['fields'],
    comment: string | null,
    actor: string | null,
  ): number {
    const id = this.next();
    this.changes.push({ id, itemKey, connectionId, type, fields, comment, actor });
    return id;
  }
}
