import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Job } from 'bullmq';
import type { TrackerCall } from '../trackers/call-recorder.ts';
import { registerScrapeCollectors, type ScrapeSources } from './collectors.ts';

/**
 * Trackline's Prometheus metrics. Two kinds, because processes are split by role:
 * - in-process counters for what happens in this process (jobs it ran, tracker calls it made,
 *   webhooks it answered): a `trackline worker` counts jobs, a `trackline api` counts webhooks,
 *   `trackline start` counts both; Prometheus adds them up across targets;
 * - state read at scrape time from Redis and Postgres (queue depths, open conflicts), which any
 *   process can answer, so each role's /metrics is complete on its own. With api and workers
 *   apart, both report the same queue depths: aggregate those with max(), not sum().
 *
 * One registry per Metrics (never prom-client's global one), so two runtimes in one process
 * (tests) never mix their numbers.
 */
export type JobOutcome = 'completed' | 'failed' | 'retried';
export type WebhookOutcome = 'accepted' | 'duplicate' | 'rejected' | 'error';

export interface MetricsOptions extends ScrapeSources {
  /** Node's process metrics (CPU, memory, event-loop lag, GC). @defaultValue true */
  processMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();

  private readonly jobs = new Counter({
    name: 'trackline_jobs_total',
    help: 'Job attempts this process finished, by queue and outcome (completed; failed for good; retried: failed, another attempt follows).',
    labelNames: ['queue', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly jobDuration = new Histogram({
    name: 'trackline_job_duration_seconds',
    help: 'Time one job attempt ran in this process, from taken to finished, by queue and outcome.',
    labelNames: ['queue', 'outcome'] as const,
    // Reconciles take a few tracker round trips (tens of ms to seconds); polls and paced
    // reconciles behind a 429 can take minutes.
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180],
    registers: [this.registry],
  });

  private readonly trackerCalls = new Counter({
    name: 'trackline_tracker_calls_total',
    help: 'HTTP calls this process made to trackers, by connection and status (the HTTP status, or "error" for a network failure or timeout).',
    labelNames: ['connection', 'status'] as const,
    registers: [this.registry],
  });

  private readonly trackerCallDuration = new Histogram({
    name: 'trackline_tracker_call_duration_seconds',
    help: 'Duration of one tracker HTTP call (not counting time waiting for the rate-limit budget), by connection.',
    labelNames: ['connection'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly budgetRemaining = new Gauge({
    name: 'trackline_tracker_ratelimit_remaining',
    help: "The tracker's rate-limit budget left (the last X-RateLimit-Remaining this process saw), by connection.",
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });

  private readonly webhooks = new Counter({
    name: 'trackline_webhooks_total',
    help: 'Tracker webhooks this process answered, by connection and outcome (accepted; duplicate: a redelivery; rejected: bad signature, body or unknown connection; error).',
    labelNames: ['connection', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor(options: MetricsOptions) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    registerScrapeCollectors(this.registry, options);
  }

  /** Counts each job attempt a BullMQ worker of this process finishes. */
  watchWorker(worker: {
    name: string;
    on(event: 'completed', listener: (job: Job) => void): unknown;
    on(event: 'failed', listener: (job: Job | undefined) => void): unknown;
  }): void {
    worker.on('completed', (job) => this.recordJob(worker.name, 'completed', job));
    worker.on('failed', (job) => {
      // BullMQ sets finishedOn only when the job will not be tried again (attempts used up, or an
      // UnrecoverableError); otherwise it is back in the queue for another attempt. A job lost
      // to a stalled worker has no job object here and is counted when it finally ends.
      if (job) this.recordJob(worker.name, job.finishedOn ? 'failed' : 'retried', job);
    });
  }

  recordJob(queue: string, outcome: JobOutcome, job: Pick<Job, 'processedOn'>): void {
    this.jobs.inc({ queue, outcome });
    if (job.processedOn) this.jobDuration.observe({ queue, outcome }, Math.max(0, Date.now() - job.processedOn) / 1000);
  }

  /** Subscribes to tracker calls (the worker's call log reports every one). */
  watchCalls(source: { onCall(listener: (call: TrackerCall) => void): void }): void {
    source.onCall((call) => this.recordTrackerCall(call));
  }

  recordTrackerCall(call: TrackerCall): void {
    const connection = call.connectionId;
    this.trackerCalls.inc({ connection, status: call.status === undefined ? 'error' : String(call.status) });
    this.trackerCallDuration.observe({ connection }, call.durationMs / 1000);
    const remaining = Number(call.rateLimit?.['x-ratelimit-remaining']);
    if (call.rateLimit?.['x-ratelimit-remaining'] !== undefined && Number.isFinite(remaining))
      this.budgetRemaining.set({ connection }, remaining);
  }

  recordWebhook(connection: string, outcome: WebhookOutcome): void {
    this.webhooks.inc({ connection, outcome });
  }

  /** The exposition: Prometheus text format 0.0.4. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

export function createMetrics(options: MetricsOptions): Metrics {
  return new Metrics(options);
}
