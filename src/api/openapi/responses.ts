import { z } from 'zod';
import { PULL_REQUEST_STATES } from '../../config/schema.ts';

/**
 * What the /v1 routes answer, as Zod schemas. They document the responses in /openapi.json
 * (requests are documented from the very schemas that validate them).
 */
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string().nullable() }),
});

const FieldChange = z.object({ from: z.unknown(), to: z.unknown() });

export const ItemView = z.object({
  key: z.string(),
  kind: z.string().nullable(),
  version: z.number().int(),
  deleted: z.boolean(),
  fields: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  updatedAt: z.string(),
  connections: z.array(
    z.object({
      connection: z.string(),
      remoteId: z.string().nullable(),
      remoteKey: z.string().nullable(),
      url: z.string().nullable(),
      status: z.string(),
      syncedVersion: z.number().int(),
      lastSyncedAt: z.string().nullable(),
      lastError: z.string().nullable(),
    }),
  ),
  branch: z.string().nullable().describe('The git branch of the item’s work (item.branch)'),
  pullRequests: z.array(
    z.object({
      connection: z.string(),
      number: z.number().int().nullable().describe('null while Trackline is opening it, or when GitHub refused (lastError)'),
      url: z.string().nullable(),
      title: z.string().nullable(),
      state: z.enum(PULL_REQUEST_STATES).nullable(),
      head: z.string(),
      base: z.string().nullable(),
      origin: z
        .enum(['opened', 'branch', 'linked', 'closes'])
        .describe('opened by Trackline; a person’s from the item’s branch; links.pull_request; a person’s that closes the item’s issue'),
      lastError: z.string().nullable(),
      links: z.record(z.string(), z.object({ id: z.string(), state: z.string() })).describe('connection -> the link shown on its issue'),
    }),
  ),
});

export const ActivityPage = z.object({
  activity: z.array(
    z.object({
      id: z.number().int(),
      at: z.string(),
      actor: z.string().describe('orchestrator, sync:<connection>, operator:<name> or strategy:<name>'),
      action: z.string(),
      connection: z.string().nullable(),
      field: z.string().nullable(),
      from: z.unknown(),
      to: z.unknown(),
      detail: z.unknown(),
    }),
  ),
  next: z.string().nullable(),
});

export const ChangePage = z.object({
  changes: z.array(
    z.object({
      id: z.string(),
      type: z.string().describe('item.changed, item.commented, item.created, item.remote_deleted, item.pr_changed'),
      key: z.string(),
      connection: z.string(),
      fields: z.record(z.string(), FieldChange),
      comment: z.string().nullable(),
      actor: z.string().nullable(),
      at: z.string(),
      pullRequest: z
        .object({
          number: z.number().int(),
          url: z.string(),
          title: z.string(),
          head: z.string(),
          base: z.string(),
          from: z.enum(PULL_REQUEST_STATES).nullable(),
          to: z.enum(PULL_REQUEST_STATES),
        })
        .optional()
        .describe('item.pr_changed: the pull request and its state before and after'),
    }),
  ),
  next: z.string(),
});

export const ConflictView = z.object({
  id: z.number().int(),
  key: z.string(),
  connection: z.string(),
  field: z.string(),
  base: z.unknown(),
  local: z.unknown(),
  remote: z.unknown(),
  status: z.enum(['open', 'resolved']),
  resolution: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  reason: z.string().nullable(),
  createdAt: z.string(),
  resolvedAt: z.string().nullable(),
});
export const ConflictPage = z.object({ conflicts: z.array(ConflictView), next: z.string().nullable() });

const DeliverySummary = z.object({
  id: z.string(),
  direction: z.enum(['in', 'out']),
  kind: z.string(),
  connection: z.string().nullable(),
  key: z.string().nullable(),
  status: z.string(),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  requestId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const TrackerCallView = z.object({
  at: z.string(),
  method: z.string(),
  path: z.string(),
  status: z.number().int().nullable(),
  durationMs: z.number().int(),
  rateLimit: z.unknown(),
  error: z.string().nullable(),
});
export const DeliveryPage = z.object({ deliveries: z.array(DeliverySummary), next: z.string().nullable() });
export const DeliveryDetail = DeliverySummary.extend({
  jobId: z.string().nullable(),
  dedupKey: z.string().nullable(),
  request: z.unknown(),
  result: z.unknown(),
  attempts: z
    .array(
      z.object({
        attempt: z.number().int(),
        startedAt: z.string(),
        endedAt: z.string().optional(),
        status: z.string().optional(),
        error: z.string().optional(),
        calls: z.array(TrackerCallView),
      }),
    )
    .optional(),
  calls: z.array(TrackerCallView),
});
export const RetryAccepted = z.object({ id: z.string(), kind: z.string(), how: z.string(), by: z.string() });

export const ConnectionPage = z.object({
  connections: z.array(
    z.object({
      id: z.string(),
      tracker: z.string(),
      direction: z.string(),
      conflictStrategy: z.string(),
      reachable: z.boolean().nullable(),
      lastCallAt: z.string().nullable(),
      lastSuccessAt: z.string().nullable(),
      lastError: z.object({ at: z.string(), message: z.string() }).nullable(),
      rateLimit: z.object({
        budget: z.unknown(),
        remaining: z.number().nullable(),
        pausedUntil: z.string().nullable(),
        limitedLastHour: z.number().int(),
      }),
      queue: z.object({ pending: z.number().int(), failed: z.number().int(), conflicts: z.number().int(), mapped: z.number().int() }),
      polling: z.object({ interval: z.string(), cursor: z.unknown(), lastPoll: z.unknown() }),
    }),
  ),
  next: z.string().nullable(),
});
export const SyncResult = z.object({ connection: z.string(), dryRun: z.boolean() }).catchall(z.unknown());
