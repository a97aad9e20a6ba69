import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { parseEnv, type Env } from './config/env.ts';
import { loadConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { parseDuration } from './config/duration.ts';
import { ensureDatabase, openDatabase, type DbHandle } from './db/client.ts';
import { runMigrations } from './db/migrate.ts';
import { ConnectionRegistry } from './connections/registry.ts';
import { Queues } from './queues/queues.ts';
import type { QueueBackend } from './queues/queue-backend.ts';
import { chooseQueueBackend, connectQueueBackend } from './queues/connect-queue-backend.ts';
import { RedisQueueBackend } from './queues/redis-queue-backend.ts';
import { PacerRegistry } from './pacing/registry.ts';
import type { PacingStore } from './pacing/pacing-store.ts';
import { RedisPacingStore } from './pacing/redis-pacing-store.ts';
import { PostgresPacingStore } from './pacing/postgres-pacing-store.ts';
import { BufferedCallLog } from './jobs/call-log.ts';
import type { CoalesceState } from './jobs/coalesce-state.ts';
import { RedisCoalesceState } from './jobs/redis-coalesce-state.ts';
import { PostgresCoalesceState } from './jobs/postgres-coalesce-state.ts';
import { createLogger } from './support/logger.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { trackerCallLogger } from './jobs/tracker-call-log.ts';

/**
 * The composition root: every long-lived service is built here, once, from the parsed environment
 * and config, and handed to the api and the workers. Nothing else reads the environment.
 */
export interface Runtime {
  env: Env;
  config: Config;
  log: Logger;
  db: DbHandle;
  /** Where the queues live (`[queue] backend`): Redis, or PostgreSQL alone. */
  queueBackend: QueueBackend;
  /** The Redis client of the queues (fails fast while Redis is away); absent on the PostgreSQL backend. */
  producerRedis?: Redis;
  queues: Queues;
  connections: ConnectionRegistry;
  /**
   * Worker-side services, present when built with `role` including workers. The pacers' budgets
   * and the coalescing flags live in the queues' store: Redis, or PostgreSQL tables.
   */
  worker?: { pacers: PacerRegistry; callLog: BufferedCallLog; coalesce: CoalesceState };
  /** Prometheus metrics of this process, shared by its api and workers (GET /metrics). */
  metrics: Metrics;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  role: 'api' | 'worker' | 'all' | 'cli';
  env?: Record<string, string | undefined>;
  /** A config object instead of reading the file (tests, demo). */
  config?: Config;
  log?: Logger;
  migrate?: boolean;
}

export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const source = options.env ?? process.env;
  const env = parseEnv(source);
  const config = options.config ?? loadConfig(env.TRACKLINE_CONFIG, source);
  const log = options.log ?? createLogger(env.LOG_LEVEL);

  await ensureDatabase(env.DATABASE_URL);
  const db = openDatabase(env.DATABASE_URL, {
    max: options.role === 'cli' ? 2 : 20,
    statementTimeoutMs: parseDuration(config.database.statement_timeout) ?? 30_000,
  });
  const closers: Array<() => Promise<unknown>> = [];
  try {
    if (options.migrate !== false) await runMigrations(env.DATABASE_URL);

    const withWorkers = options.role === 'worker' || options.role === 'all' || options.role === 'cli';
    const choice = await chooseQueueBackend(config.queue.backend, source);
    const queueBackend = await connectQueueBackend(choice.kind, {
      databaseUrl: env.DATABASE_URL,
      redisUrl: env.REDIS_URL,
      redisPrefix: env.TRACKLINE_REDIS_PREFIX,
      workers: withWorkers,
      migrate: options.migrate !== false,
    });
    // Closed last: the queues, workers and stores that use its connections are closed before it.
    closers.push(() => queueBackend.close());
    if (options.role !== 'cli') log.info({ queues: queueBackend.describe, why: choice.reason }, `queue backend: ${choice.kind}`);
    const redis = queueBackend instanceof RedisQueueBackend ? queueBackend : undefined;

    const queueSettings = {
      attempts: config.worker.attempts,
      backoffMs: parseDuration(config.worker.backoff) ?? 1000,
      onError: throttledWarning(log, `queue connection error (${choice.kind} unreachable?); jobs are enqueued again once it is back`),
    };
    const queues = new Queues(queueBackend, queueSettings);
    closers.unshift(() => queues.close());

    let worker: Runtime['worker'];
    let connections: ConnectionRegistry;
    if (withWorkers) {
      // The one place that asks which backend it is: the shared state goes where the queues are.
      const prefix = env.TRACKLINE_REDIS_PREFIX;
      const store: PacingStore = redis?.workerRedis ? new RedisPacingStore(redis.workerRedis) : new PostgresPacingStore(db.sql);
      const coalesce: CoalesceState = redis?.workerRedis
        ? new RedisCoalesceState(redis.workerRedis, prefix)
        : new PostgresCoalesceState(db.sql, prefix);
      const pacers = new PacerRegistry(store, prefix);
      const callLog = new BufferedCallLog(db.sql, (error) => log.error({ err: error }, 'could not record tracker calls'));
      worker = { pacers, callLog, coalesce };
      callLog.onCall(trackerCallLogger(log));
      closers.splice(closers.length - 1, 0, async () => {
        await callLog.flush();
        await pacers.close();
      });
      // The adapters (HTTP clients, Octokit, Markdown and HTML conversion) are loaded only here:
      // a process without workers never needs them (issue 17, section 4: the api's memory).
      const { createAdapter } = await import('./trackers/adapters.ts');
      const deps = { pacers, recorder: callLog, timeoutMs: parseDuration(config.worker.request_timeout) ?? 30_000 };
      connections = new ConnectionRegistry(config.connections, (connection) => createAdapter(connection, deps));
    } else {
      connections = new ConnectionRegistry(config.connections, null);
    }

    const workerServices = worker;
    const metrics = createMetrics({
      queues: () => queues.all(),
      queueSource: queueBackend.kind === 'redis' ? 'redis' : 'postgres-queues',
      sql: db.sql,
      connectionIds: config.connections.map((c) => c.id),
      pacers: workerServices ? () => workerServices.pacers.all() : undefined,
      processMetrics: options.role !== 'cli',
    });
    if (workerServices) metrics.watchCalls(workerServices.callLog);

    return {
      env,
      config,
      log,
      db,
      queueBackend,
      producerRedis: redis?.producer,
      queues,
      connections,
      worker,
      metrics,
      async close() {
        for (const close of closers) await close().catch(() => {});
        await db.close();
      },
    };
  } catch (error) {
    for (const close of closers) await close().catch(() => {});
    await db.close();
    throw error;
  }
}

/** A warning logged at most once per `everyMs` per queue: an outage is one line every 10 s, not a flood. */
function throttledWarning(log: Logger, message: string, everyMs = 10_000) {
  const lastAt = new Map<string, number>();
  return (error: Error, queue: string) => {
    const now = Date.now();
    if (now - (lastAt.get(queue) ?? 0) < everyMs) return;
    lastAt.set(queue, now);
    log.warn({ queue, err: error.message }, message);
  };
}
