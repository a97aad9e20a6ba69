import { Counter, Gauge, type Registry } from 'prom-client';
import type { AnyQueue } from '../queues/queue-backend.ts';
import type { Sql } from '../db/client.ts';
import type { Pacer } from '../pacing/pacer.ts';

/** What the scrape-time collectors read. Everything but `pacers` exists in every role. */
export interface ScrapeSources {
  /** Every queue (Queues.all()): depths and ages are read through the Queue API at scrape time. */
  queues: () => AnyQueue[];
  /**
   * The `source` label of the queue gauges' up gauge: "redis" (the default) or, with the queues in
   * PostgreSQL, "postgres-queues" (beside "postgres", the conflicts query).
   */
  queueSource?: string;
  sql: Sql;
  /** Configured connection ids, so a connection with no open conflict still shows a 0. */
  connectionIds: string[];
  /** This process's pacers (worker roles only): their pause counters are in-process. */
  pacers?: () => Pacer[];
  /** A scrape gives up on the queues or Postgres after this long and reports the source as failed. @defaultValue 3000 */
  timeoutMs?: number;
}

/** Job states counted per queue (BullMQ's getJobCounts names; a paused queue's jobs count as waiting). */
export const JOB_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'failed', 'completed'] as const;
/** States where the age of the oldest job means something to an operator (work not done yet, or failed). */
export const AGED_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;

interface QueueSnapshot {
  counts: Map<string, Record<string, number>>;
  oldest: Map<string, Record<string, number>>;
}

interface ScrapeState {
  queues: QueueSnapshot | null;
  conflicts: { connection_id: string; open: number }[] | null;
}

/**
 * Registers the gauges filled at scrape time. They all come from one read of the queues and one query
 * of Postgres per scrape: prom-client collects every metric at once, and without the shared
 * promise each gauge would read on its own (and `up` would be collected before the reads ended).
 * A failing source does not fail the scrape: its gauges keep their last values and
 * `trackline_scrape_source_up{source}` drops to 0, which is what to alert on.
 */
export function registerScrapeCollectors(registry: Registry, sources: ScrapeSources): void {
  const timeoutMs = sources.timeoutMs ?? 3000;
  let inFlight: Promise<ScrapeState> | null = null;
  const scrape = (): Promise<ScrapeState> => {
    // prom-client starts every metric's collect in the same tick, so the gauges of one scrape all
    // find this read in flight; the next scrape starts a fresh one.
    inFlight ??= Promise.all([
      within(readQueues(sources.queues()), timeoutMs).catch(() => null),
      within(readConflicts(sources.sql), timeoutMs).catch(() => null),
    ])
      .then(([queues, conflicts]) => ({ queues, conflicts }))
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };

  new Gauge({
    name: 'trackline_scrape_source_up',
    help: 'Whether this scrape could read the source (1) or not (0): redis (or postgres-queues) for the queue gauges, postgres for conflicts.',
    labelNames: ['source'] as const,
    registers: [registry],
    async collect() {
      const { queues, conflicts } = await scrape();
      this.set({ source: sources.queueSource ?? 'redis' }, queues ? 1 : 0);
      this.set({ source: 'postgres' }, conflicts ? 1 : 0);
    },
  });

  new Gauge({
    name: 'trackline_queue_jobs',
    help: 'Jobs in each queue and state, read from the queue store at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const { queues } = await scrape();
      if (!queues) return;
      for (const [queue, counts] of queues.counts) for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
    },
  });

  new Gauge({
    name: 'trackline_queue_oldest_job_age_seconds',
    help: 'Age (since it was added) of the first job in line in each queue and state; 0 when the state is empty.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const { queues } = await scrape();
      if (!queues) return;
      for (const [queue, ages] of queues.oldest) for (const state of AGED_STATES) this.set({ queue, state }, ages[state] ?? 0);
    },
  });

  new Gauge({
    name: 'trackline_conflicts_open',
    help: 'Open sync conflicts waiting for an operator or the orchestrator, by connection (from Postgres at scrape time).',
    labelNames: ['connection'] as const,
    registers: [registry],
    async collect() {
      const { conflicts } = await scrape();
      if (!conflicts) return;
      // Reset first: a connection whose last conflict was resolved must drop to 0, not keep its count.
      this.reset();
      for (const id of sources.connectionIds) this.set({ connection: id }, 0);
      for (const row of conflicts) this.set({ connection: row.connection_id }, row.open);
    },
  });

  if (sources.pacers) registerPacerCollectors(registry, sources.pacers);
}

/**
 * Pacer pauses. Pacers are per credential, not per connection (two connections sharing a token
 * share one budget), so the label is the pacer id: the same hash that names its Redis keys, never
 * the credential. The stats are this process's own counters, turned into Prometheus counters by
 * adding what grew since the last scrape.
 */
function registerPacerCollectors(registry: Registry, pacers: () => Pacer[]): void {
  const seen = new Map<string, { pauses: number; pausedMs: number; calls: number }>();
  const sync = () => {
    for (const pacer of pacers()) {
      const id = pacer.options.id;
      const last = seen.get(id) ?? { pauses: 0, pausedMs: 0, calls: 0 };
      const now = { pauses: pacer.stats.pauses, pausedMs: pacer.stats.pausedMs, calls: pacer.stats.calls };
      pauses.inc({ pacer: id }, Math.max(0, now.pauses - last.pauses));
      pausedSeconds.inc({ pacer: id }, Math.max(0, now.pausedMs - last.pausedMs) / 1000);
      paced.inc({ pacer: id }, Math.max(0, now.calls - last.calls));
      seen.set(id, now);
    }
  };
  const pauses = new Counter({
    name: 'trackline_pacer_pauses_total',
    help: 'Times this process paused a tracker credential (a 429, or a budget used up), by pacer (a hash of the credential).',
    labelNames: ['pacer'] as const,
    registers: [registry],
    collect: sync,
  });
  const pausedSeconds = new Counter({
    name: 'trackline_pacer_paused_seconds_total',
    help: 'Pause time this process asked for, by pacer.',
    labelNames: ['pacer'] as const,
    registers: [registry],
    collect: sync,
  });
  const paced = new Counter({
    name: 'trackline_pacer_calls_total',
    help: 'Tracker calls this process let through its pacers, by pacer.',
    labelNames: ['pacer'] as const,
    registers: [registry],
    collect: sync,
  });
}

async function readQueues(queues: AnyQueue[]): Promise<QueueSnapshot> {
  const counts = new Map<string, Record<string, number>>();
  const oldest = new Map<string, Record<string, number>>();
  const now = Date.now();
  await Promise.all(
    queues.map(async (queue) => {
      const [jobCounts, ...heads] = await Promise.all([
        queue.getJobCounts(...JOB_STATES),
        // asc = true: the head of each list or sorted set, i.e. the job longest in that state.
        ...AGED_STATES.map((state) => queue.getJobs([state], 0, 0, true)),
      ]);
      counts.set(queue.name, jobCounts);
      const ages: Record<string, number> = {};
      AGED_STATES.forEach((state, i) => {
        const job = heads[i][0];
        ages[state] = job?.timestamp ? Math.max(0, now - job.timestamp) / 1000 : 0;
      });
      oldest.set(queue.name, ages);
    }),
  );
  return { counts, oldest };
}

async function readConflicts(sql: Sql): Promise<{ connection_id: string; open: number }[]> {
  // conflicts_status (status, id) keeps this an index scan over the open rows only.
  return sql<{ connection_id: string; open: number }[]>`
    select connection_id, count(*)::int as open from conflicts where status = 'open' group by connection_id`;
}

function within<T>(promise: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}
