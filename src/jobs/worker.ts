import { Worker, type Job } from 'bullmq';
import type { Runtime } from '../runtime.ts';
import { QUEUE } from '../queues/names.ts';
import { MaintenanceJob, type MaintenanceJobData, type ReconcileJobData } from '../queues/jobs.ts';
import { createReconcileProcessor } from './reconcile-job.ts';
import { sweepOutbox } from './outbox-sweep.ts';
import { parseDuration } from '../config/duration.ts';

export interface RunningWorkers {
  workers: Worker[];
  close(graceMs?: number): Promise<void>;
}

export interface WorkerOptions {
  /** How often the outbox sweep runs; it also runs once at start. */
  sweepEveryMs?: number;
  concurrency?: number;
}

/** Starts the BullMQ workers of this process. `close()` lets running jobs finish first. */
export async function startWorkers(runtime: Runtime, options: WorkerOptions = {}): Promise<RunningWorkers> {
  if (!runtime.worker) throw new Error('runtime was built without worker services');
  const { redis } = runtime.worker;
  const { log, queues, db } = runtime;
  const prefix = runtime.env.TRACKLINE_REDIS_PREFIX;

  const lockMs = parseDuration(runtime.config.worker.lock_duration) ?? 30_000;
  const reconcile = new Worker<ReconcileJobData>(
    QUEUE.reconcile,
    createReconcileProcessor({
      sql: db.sql,
      redis,
      keyPrefix: prefix,
      connections: runtime.connections,
      queues,
      log,
      coalesceMs: parseDuration(runtime.config.worker.coalesce_window) ?? 500,
    }),
    {
      connection: redis,
      prefix,
      // Reconciles wait on tracker I/O, so many run at once; the pacer keeps each connection in budget.
      concurrency: options.concurrency ?? runtime.config.worker.concurrency,
      // A job whose worker died is taken over after this long (the lock is renewed while it runs).
      lockDuration: lockMs,
      stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
      maxStalledCount: 5,
    },
  );
  const maintenance = new Worker<MaintenanceJobData>(
    QUEUE.maintenance,
    async (job: Job<MaintenanceJobData>) => {
      const { task } = MaintenanceJob.parse(job.data);
      if (task === 'sweep') return { enqueued: await sweepOutbox(db.sql, queues) };
      return null;
    },
    { connection: redis, prefix, concurrency: 1 },
  );
  const workers = [reconcile, maintenance] as Worker[];
  for (const w of workers) w.on('error', (error) => log.error({ err: error, queue: w.name }, 'worker error'));
  reconcile.on('failed', (job, error) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) log.warn({ job: job.id, name: job.name, err: error.message }, 'reconcile failed for good');
  });

  await queues.scheduleMaintenance(options.sweepEveryMs ?? 10_000);
  // Work left behind by a crash before this process started is picked up now, not in 10 s.
  void sweepOutbox(db.sql, queues).catch((error) => log.warn({ err: error }, 'initial outbox sweep failed'));

  return {
    workers,
    /**
     * Lets running jobs finish for up to `graceMs`, then stops regardless: a job cut short keeps
     * its lock until it expires and is then taken over by another worker, so nothing is lost.
     */
    async close(graceMs = 20_000) {
      const graceful = Promise.all(workers.map((w) => w.close()));
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([graceful, timer])) === 'timeout') {
        log.warn({ graceMs }, 'jobs still running at shutdown; leaving them for another worker');
        await Promise.all(workers.map((w) => w.close(true)));
      }
    },
  };
}
