import { randomUUID } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import type { AnyQueue, AnyQueueEvents, QueueBackend } from './queue-backend.ts';
import { QUEUE } from './names.ts';
import {
  ReconcileJob,
  type ReconcileJobData,
  MaintenanceJob,
  type MaintenanceJobData,
  InboundJob,
  type InboundJobData,
  InboundBatchJob,
  type InboundQueueData,
  PollJob,
  type PollJobData,
  CallbackJob,
  type CallbackJobData,
  PlanJob,
  type PlanJobData,
} from './jobs.ts';

export interface QueueSettings {
  attempts: number;
  backoffMs: number;
  /**
   * Told about connection errors of the queues (their store down or restarting). Without a listener
   * BullMQ prints each one with its stack to stderr, several times a second during an outage.
   */
  onError?: (error: Error, queue: string) => void;
}

/**
 * Default job options, as data next to the queues:
 * - attempts and exponential backoff with jitter for network errors, timeouts and 5xx (a 429
 *   waits as the tracker asks and uses no attempt; a 4xx fails at once as UnrecoverableError);
 * - completed jobs are dropped quickly (the delivery row is the record), failed ones are kept for
 *   a week so operators can retry them from Bull Board.
 */
export function reconcileJobOptions(settings: QueueSettings): JobsOptions {
  return {
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: settings.backoffMs, jitter: 0.5 },
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/** The dedup id of a pair: many events for one item and connection coalesce into one job. */
export function reconcileDedupId(connectionId: string, itemKey: string): string {
  return `${connectionId}:${itemKey}`;
}

/** Job ids of the inbound queue: `in-<delivery>` for one delivery, `inb-<uuid>` for a commit's batch. */
export const inboundJobId = (deliveryId: string) => `in-${deliveryId}`;
export const newInboundBatchJobId = () => `inb-${randomUUID()}`;

const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

export class Queues {
  readonly reconcile: AnyQueue<ReconcileJobData>;
  readonly inbound: AnyQueue<InboundQueueData>;
  readonly poll: AnyQueue<PollJobData>;
  readonly callbacks: AnyQueue<CallbackJobData>;
  readonly maintenance: AnyQueue<MaintenanceJobData>;
  readonly plans: AnyQueue<PlanJobData>;
  private planEvents?: AnyQueueEvents;

  constructor(
    /** Where the queues live (Redis or PostgreSQL); workers are built on the same backend. */
    readonly backend: QueueBackend,
    private readonly settings: QueueSettings,
  ) {
    this.reconcile = backend.queue(QUEUE.reconcile);
    this.inbound = backend.queue(QUEUE.inbound);
    this.poll = backend.queue(QUEUE.poll);
    this.callbacks = backend.queue(QUEUE.callbacks);
    this.maintenance = backend.queue(QUEUE.maintenance);
    this.plans = backend.queue(QUEUE.plans);
    const onError = settings.onError;
    if (onError) for (const queue of this.all()) queue.on('error', (error) => onError(error, queue.name));
  }

  all(): AnyQueue[] {
    return [this.reconcile, this.inbound, this.poll, this.callbacks, this.plans, this.maintenance] as AnyQueue[];
  }

  /** Asks a worker for a dry-run plan and waits for it (the listener has a connection of its own). */
  async planSync(
    data: {
      connectionId: string;
      direction: 'push' | 'pull' | 'both';
      limit?: number;
      items?: string[];
      only?: 'labels'[];
    },
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    if (!this.planEvents) {
      this.planEvents = this.backend.queueEvents(QUEUE.plans);
      await this.planEvents.waitUntilReady();
    }
    const job = await this.plans.add(`plan ${data.connectionId} (${data.direction})`, PlanJob.parse(data), {
      removeOnComplete: { age: 3600, count: 100 },
      removeOnFail: { age: 24 * 3600 },
    });
    return job.waitUntilFinished(this.planEvents, timeoutMs);
  }

  /**
   * One inbound job per webhook delivery (the sweep, a retry, a batch's failed delivery); the
   * delivery id as job id makes a re-enqueue a no-op. `delayMs` holds the first attempt back.
   */
  async enqueueInbound(jobs: InboundJobData[], options: { delayMs?: number } = {}): Promise<void> {
    if (jobs.length === 0) return;
    await this.inbound.addBulk(
      jobs.map((data) => ({
        name: `${data.connectionId} webhook ${data.deliveryId}`,
        data: InboundJob.parse(data),
        opts: { ...this.inboundOptions(), jobId: inboundJobId(data.deliveryId), delay: options.delayMs },
      })),
    );
  }

  /** The webhooks of one intake commit as one job, under the id their rows were stored with. */
  async enqueueInboundBatch(jobId: string, deliveries: InboundJobData[]): Promise<void> {
    if (deliveries.length === 0) return;
    const connections = [...new Set(deliveries.map((d) => d.connectionId))].join(', ');
    await this.inbound.add(`${connections} webhooks ×${deliveries.length}`, InboundBatchJob.parse({ deliveries }), {
      ...this.inboundOptions(),
      jobId,
    });
  }

  /**
   * The subset of `jobIds` that are still to run or running on the inbound queue: the sweep
   * leaves their deliveries alone. One pipelined round trip for all of them.
   */
  async liveInboundJobs(jobIds: string[]): Promise<Set<string>> {
    if (jobIds.length === 0) return new Set();
    const states = await Promise.all(jobIds.map((id) => this.inbound.getJobState(id)));
    return new Set(jobIds.filter((_, i) => LIVE_STATES.has(states[i])));
  }

  private inboundOptions(): JobsOptions {
    return {
      attempts: this.settings.attempts,
      backoff: { type: 'exponential', delay: this.settings.backoffMs, jitter: 0.5 },
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  /** A signed callback per change; retried with backoff for about a day before it is failed. */
  async enqueueCallbacks(changeIds: number[]): Promise<void> {
    if (changeIds.length === 0) return;
    await this.callbacks.addBulk(
      changeIds.map((changeId) => ({
        name: `change ${changeId}`,
        data: CallbackJob.parse({ changeId }),
        opts: {
          jobId: `cb-${changeId}`,
          attempts: 20,
          backoff: { type: 'exponential', delay: Math.max(1000, this.settings.backoffMs), jitter: 0.5 },
          removeOnComplete: { age: 3600, count: 1000 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      })),
    );
  }

  /** A poll job scheduler per connection; "0" removes it. */
  async schedulePoll(connectionId: string, everyMs: number): Promise<void> {
    const id = `poll:${connectionId}`;
    if (everyMs <= 0) {
      await this.poll.removeJobScheduler(id);
      return;
    }
    await this.poll.upsertJobScheduler(
      id,
      { every: everyMs },
      { name: `poll ${connectionId}`, data: PollJob.parse({ connectionId }), opts: { removeOnComplete: 20, removeOnFail: 100 } },
    );
  }

  async pollNow(connectionId: string): Promise<void> {
    await this.poll.add(`poll ${connectionId} (operator)`, PollJob.parse({ connectionId, reason: 'operator' }), {
      jobId: `poll-now-${connectionId}-${Date.now()}`,
      removeOnComplete: 20,
      removeOnFail: 100,
    });
  }

  /**
   * Enqueues reconciles. `keepLastIfActive` is what gives snapshot semantics: while a pair's job
   * runs, a new request is parked and started when it finishes (no lost update), never run in
   * parallel; while it waits, further requests coalesce into it.
   */
  async enqueueReconcile(jobs: ReconcileJobData[]): Promise<void> {
    if (jobs.length === 0) return;
    const options = reconcileJobOptions(this.settings);
    await this.reconcile.addBulk(
      jobs.map((data) => {
        const parsed = ReconcileJob.parse(data);
        return {
          name: `${parsed.connectionId} ${parsed.itemKey}`,
          data: parsed,
          opts: { ...options, deduplication: { id: reconcileDedupId(parsed.connectionId, parsed.itemKey), keepLastIfActive: true } },
        };
      }),
    );
  }

  async scheduleMaintenance(sweepEveryMs: number): Promise<void> {
    await this.maintenance.upsertJobScheduler(
      'outbox-sweep',
      { every: sweepEveryMs },
      { name: 'outbox sweep', data: MaintenanceJob.parse({ task: 'sweep' }), opts: { removeOnComplete: 10, removeOnFail: 50 } },
    );
  }

  async close(): Promise<void> {
    await this.planEvents?.close();
    await Promise.all(this.all().map((q) => q.close()));
  }
}
