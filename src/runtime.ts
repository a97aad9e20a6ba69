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
import { PacerRegistry } from './pacing/registry.ts';
import { RedisPacingStore } from './pacing/redis-pacing-store.ts';
import { BufferedCallLog } from './jobs/call-log.ts';
import { connectRedis, createRedis } from './support/redis.ts';
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
  /** Fails fast when Redis is away (api, enqueueing). */
  producerRedis: Redis;
  queues: Queues;
  connections: ConnectionRegistry;
  /** Worker-side services, present when built with `role` including workers. */
  worker?: { redis: Redis; pacers: PacerRegistry; callLog: BufferedCallLog };
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

    const producerRedis = createRedis(env.REDIS_URL, 'producer');
    await connectRedis(producerRedis, env.REDIS_URL);
    closers.push(async () => producerRedis.quit().catch(() => producerRedis.disconnect()));

    const queueSettings = {
      prefix: env.TRACKLINE_REDIS_PREFIX,
      attempts: config.worker.attempts,
      backoffMs: parseDuration(config.worker.backoff) ?? 1000,
      onError: throttledWarning(log, 'queue connection error (Redis unreachable?); jobs are enqueued again once it is back'),
    };
    const queues = new Queues(producerRedis, queueSettings);
    closers.unshift(() => queues.close());

    let worker: Runtime['worker'];
    let connections: ConnectionRegistry;
    if (options.role === 'worker' || options.role === 'all' || options.role === 'cli') {
      const redis = createRedis(env.REDIS_URL, 'worker');
      await connectRedis(redis, env.REDIS_URL);
      const pacers = new PacerRegistry(new RedisPacingStore(redis), env.TRACKLINE_REDIS_PREFIX);
      const callLog = new BufferedCallLog(db.sql, (error) => log.error({ err: error }, 'could not record tracker calls'));
      worker = { redis, pacers, callLog };
      callLog.onCall(trackerCallLogger(log));
      closers.push(async () => {
        await callLog.flush();
        await pacers.close();
        await redis.quit().catch(() => redis.disconnect());
      });
      connections = new ConnectionRegistry(config.connections, {
        pacers,
        recorder: callLog,
        timeoutMs: parseDuration(config.worker.request_timeout) ?? 30_000,
      });
    } else {
      connections = new ConnectionRegistry(config.connections, null);
    }

    const workerServices = worker;
    const metrics = createMetrics({
      queues: () => queues.all(),
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
      producerRedis,
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
