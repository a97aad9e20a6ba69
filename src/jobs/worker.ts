import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { CoalesceState } from './coalesce-state.ts';
import type { Config } from '../config/schema.ts';
import type { Sql } from '../db/client.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import type { Queues } from '../queues/queues.ts';
import type { AnyWorker } from '../queues/queue-backend.ts';
import { QUEUE } from '../queues/names.ts';
import {
  MaintenanceJob,
  type MaintenanceJobData,
  type ReconcileJobData,
  type InboundQueueData,
  type PollJobData,
  type CallbackJobData,
  type PlanJobData,
} from '../queues/jobs.ts';
import { createReconcileProcessor } from './reconcile-job.ts';
import { createInboundProcessor } from './inbound-job.ts';
import { createPollProcessor } from './poll-job.ts';
import { createCallbackProcessor } from './callback-job.ts';
import { createPlanProcessor } from './plan-job.ts';
import { sweepOutbox } from './outbox-sweep.ts';
import { CatalogWarmer } from './catalog-warmer.ts';
import { parseDuration } from '../config/duration.ts';

export interface RunningWorkers {
  workers: AnyWorker[];
  close(graceMs?: number): Promise<void>;
}

export interface WorkerOptions {
  /** How often the outbox sweep runs; it also runs once at start. */
  sweepEveryMs?: number;
  concurrency?: number;
}

/**
 * What the workers take from the composition root (src/runtime.ts builds it). Declared here, not
 * imported from there, so jobs depend on nothing above them.
 */
export interface WorkerHost {
  config: Config;
  log: Logger;
  db: { sql: Sql };
  /** The workers are built on the queues' backend (Redis or PostgreSQL). */
  queues: Queues;
  connections: ConnectionRegistry;
  /** Present when the runtime was built for workers: the coalescing flags, in the queues' store. */
  worker?: { coalesce: CoalesceState };
  metrics: { watchWorker(worker: AnyWorker): void };
}

/** Starts the BullMQ workers of this process. `close()` lets running jobs finish first. */
export async function startWorkers(runtime: WorkerHost, options: WorkerOptions = {}): Promise<RunningWorkers> {
  if (!runtime.worker) throw new Error('runtime was built without worker services');
  const { coalesce } = runtime.worker;
  const { log, queues, db } = runtime;
  const { backend } = queues;

  const lockMs = parseDuration(runtime.config.worker.lock_duration) ?? 10_000;
  // Takeover after a crash: a killed worker's lock expires at most lockMs after its last renewal
  // (renewed every lockMs / 2 while the job runs), and the next stalled check moves the job back to
  // wait. With checks every 0.4 × lockMs, the work is taken over within 1.4 × lockMs: 14 s with
  // the default 10 s (README, worker.lock_duration, for the trade-off).
  const takeover = { lockDuration: lockMs, stalledInterval: stalledIntervalFor(lockMs) };
  const callbacksOn = Boolean(runtime.config.orchestrator);
  // New change-feed rows go to the orchestrator's callback when one is configured.
  const notify = async (changeIds: number[]) => {
    if (callbacksOn && changeIds.length) await queues.enqueueCallbacks(changeIds);
  };
  const reconcile = backend.worker<ReconcileJobData>(
    QUEUE.reconcile,
    createReconcileProcessor({
      sql: db.sql,
      coalesce,
      connections: runtime.connections,
      queues,
      log,
      coalesceMs: parseDuration(runtime.config.worker.coalesce_window) ?? 500,
      notify,
    }),
    {
      // Reconciles wait on tracker I/O, so many run at once; the pacer keeps each connection in budget.
      concurrency: options.concurrency ?? runtime.config.worker.concurrency,
      // A job whose worker died is taken over within 1.4 × lockMs (the lock is renewed while it runs).
      ...takeover,
      maxStalledCount: 5,
    },
  );
  const inbound = backend.worker<InboundQueueData>(
    QUEUE.inbound,
    createInboundProcessor({
      sql: db.sql,
      connections: runtime.connections,
      queues,
      log,
      notify,
      retryDelayMs: parseDuration(runtime.config.worker.backoff) ?? 1000,
    }),
    { concurrency: 16, ...takeover },
  );
  const poll = backend.worker<PollJobData>(
    QUEUE.poll,
    createPollProcessor({ sql: db.sql, connections: runtime.connections, queues, log, notify }),
    // Polls are long and paced by the tracker budget; one per connection at a time is plenty.
    { concurrency: 4, lockDuration: Math.max(lockMs, 60_000) },
  );
  const callbacks = backend.worker<CallbackJobData>(
    QUEUE.callbacks,
    createCallbackProcessor({
      sql: db.sql,
      orchestrator: runtime.config.orchestrator,
      queues,
      log,
      timeoutMs: parseDuration(runtime.config.worker.request_timeout) ?? 30_000,
    }),
    { concurrency: 8, ...takeover },
  );
  const maintenance = backend.worker<MaintenanceJobData>(
    QUEUE.maintenance,
    async (job: Job<MaintenanceJobData>) => {
      const { task } = MaintenanceJob.parse(job.data);
      if (task === 'sweep') return { enqueued: await sweepOutbox(db.sql, queues, { callbacks: callbacksOn }) };
      return null;
    },
    { concurrency: 1 },
  );
  const plans = backend.worker<PlanJobData>(QUEUE.plans, createPlanProcessor({ sql: db.sql, connections: runtime.connections }), {
    concurrency: 2,
    lockDuration: Math.max(lockMs, 60_000),
  });
  const workers = [reconcile, inbound, poll, callbacks, plans, maintenance] as AnyWorker[];
  for (const w of workers) w.on('error', (error) => log.error({ err: error, queue: w.name }, 'worker error'));
  // Job counts and durations for /metrics (in-process: this process's jobs only).
  for (const w of workers) runtime.metrics.watchWorker(w);
  reconcile.on('failed', (job, error) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1))
      log.warn({ job: job.id, name: job.name, requestId: job.data.requestId, err: error.message }, 'reconcile failed for good');
  });

  const schedule = async () => {
    await queues.scheduleMaintenance(options.sweepEveryMs ?? 10_000);
    for (const connection of runtime.connections.all()) {
      // Polling pulls; a push-only connection has nothing to poll for.
      const every = connection.config.direction === 'push' ? 0 : (parseDuration(connection.config.poll_interval) ?? 0);
      await queues.schedulePoll(connection.config.id, every);
    }
  };
  await schedule();
  // The lookups a create needs, loaded now rather than on the first event's critical path.
  const warmer = new CatalogWarmer(runtime.connections, log);
  warmer.start();
  // Work left behind by a crash before this process started is picked up now, not in 10 s.
  // Everything at once (the scheduled sweep reads one page of items at a time).
  void sweepOutbox(db.sql, queues, { callbacks: callbacksOn, full: true }).catch((error) =>
    log.warn({ err: error }, 'initial outbox sweep failed'),
  );
  // Redis can come back empty (a restart without persistence, a failover): the schedulers that
  // run the outbox sweep and polling lived there, and without them work committed while Redis was
  // away would never be enqueued. Each reconnect puts them back and sweeps at once. (PostgreSQL
  // keeps them in tables, so its backend never calls this.)
  const stopListening = backend.onReconnect(
    () =>
      void schedule()
        .then(() => sweepOutbox(db.sql, queues, { callbacks: callbacksOn, full: true }))
        .catch((error) => log.warn({ err: error }, 'rescheduling after a queue store reconnect failed')),
  );

  return {
    workers,
    /**
     * Lets running jobs finish for up to `graceMs`, then stops regardless: a job cut short keeps
     * its lock until it expires and is then taken over by another worker, so nothing is lost.
     */
    async close(graceMs = 20_000) {
      stopListening();
      warmer.stop();
      const graceful = Promise.all(workers.map((w) => w.close()));
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([graceful, timer])) === 'timeout') {
        log.warn({ graceMs }, 'jobs still running at shutdown; leaving them for another worker');
        await Promise.all(workers.map((w) => w.close(true)));
      }
    },
  };
}

/**
 * How often a worker looks for jobs whose worker died. BullMQ's check takes a job over only once
 * its lock has expired and it was already seen unrenewed by the check before, so the takeover is
 * at most lockDuration + this after a crash. Each check is one script (Redis) or statement
 * (PostgreSQL) per queue and process.
 */
export function stalledIntervalFor(lockMs: number): number {
  return Math.max(500, Math.floor(lockMs * 0.4));
}
