import { z } from 'zod';

/**
 * One Zod schema per job, used both when adding and when processing, so a producer and a worker
 * of different versions can never silently disagree on a payload.
 */
export const ReconcileJob = z.object({
  connectionId: z.string(),
  itemKey: z.string(),
  /** What asked for it: shown in Bull Board and the delivery log. */
  reason: z.enum(['event', 'sweep', 'webhook', 'poll', 'operator', 'sync']),
  /** Read the remote issue even when the strategy would not need it (a remote change is known). */
  readRemote: z.boolean().default(false),
  /** The request that caused it, so one id follows a change from intake to tracker calls. */
  requestId: z.string().optional(),
  /**
   * Only these fields (`trackline sync --labels-only`); the item's other changes stay due. Folded
   * into a job already waiting for the pair (deduplication), it is that job: a full one syncs the
   * labels too. One parked behind a running job replaces it; the pair then stays behind its
   * item's version, so the outbox sweep brings the full sync back.
   */
  only: z
    .array(z.enum(['labels']))
    .min(1)
    .optional(),
});
export type ReconcileJobData = z.infer<typeof ReconcileJob>;

export const InboundJob = z.object({
  deliveryId: z.string().uuid(),
  connectionId: z.string(),
  requestId: z.string().optional(),
});
export type InboundJobData = z.infer<typeof InboundJob>;

/**
 * The webhooks one intake commit accepted, as one job. Enqueueing a job per delivery cost the
 * api more than everything else it does for a webhook (bench/intake.ts: about half the
 * throughput); one job per commit costs one Redis script for dozens of deliveries. A delivery of
 * a batch that fails transiently leaves it for a job of its own (`InboundJob`), with its own
 * retries, so nothing in a batch waits on or retries with a neighbour.
 */
export const InboundBatchJob = z.object({ deliveries: z.array(InboundJob).min(1).max(1000) });
export type InboundBatchJobData = z.infer<typeof InboundBatchJob>;

/** What the inbound queue carries: one delivery (sweep, retry, operator) or a commit's batch. */
export type InboundQueueData = InboundJobData | InboundBatchJobData;

export const PollJob = z.object({
  connectionId: z.string(),
  /** An operator's `trackline sync --pull-only` asks for a poll now, not on the schedule. */
  reason: z.enum(['schedule', 'operator']).default('schedule'),
});
export type PollJobData = z.infer<typeof PollJob>;

export const CallbackJob = z.object({ changeId: z.number().int().positive() });
export type CallbackJobData = z.infer<typeof CallbackJob>;

export const PlanJob = z.object({
  connectionId: z.string(),
  direction: z.enum(['push', 'pull', 'both']).default('both'),
  /** At most this many items are planned (the plan is for reading, not a full export). */
  limit: z.number().int().positive().max(10_000).default(1000),
  /** Only these items (a sync of named items). */
  items: z.array(z.string()).min(1).max(1000).optional(),
  /** Only these fields' changes (`--labels-only`): no create, link, comment or pull request. */
  only: z
    .array(z.enum(['labels']))
    .min(1)
    .optional(),
});
export type PlanJobData = z.infer<typeof PlanJob>;

export const MaintenanceJob = z.object({ task: z.enum(['sweep']) });
export type MaintenanceJobData = z.infer<typeof MaintenanceJob>;
