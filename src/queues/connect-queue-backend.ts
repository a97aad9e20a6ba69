import { portAnswers } from '../support/ports.ts';
import type { QueueBackend, QueueBackendKind } from './queue-backend.ts';
import { RedisQueueBackend } from './redis-queue-backend.ts';

export interface QueueBackendChoice {
  kind: QueueBackendKind;
  /** Why, for the start-up log line. */
  reason: string;
}

/**
 * `[queue] backend` when the config names one. Otherwise Redis when REDIS_URL is set or a Redis
 * answers on its default address (so an install that has Redis keeps its queues there), and
 * PostgreSQL when neither: a machine with only PostgreSQL runs without a queue server.
 */
export async function chooseQueueBackend(
  configured: QueueBackendKind | undefined,
  source: Record<string, string | undefined>,
): Promise<QueueBackendChoice> {
  if (configured) return { kind: configured, reason: '[queue] backend in the config' };
  if (source.REDIS_URL) return { kind: 'redis', reason: 'REDIS_URL is set' };
  if (await portAnswers(6379, '127.0.0.1', 1_000)) return { kind: 'redis', reason: 'a Redis answers on 127.0.0.1:6379' };
  return { kind: 'postgres', reason: 'no [queue] backend, REDIS_URL is not set and nothing answers on 127.0.0.1:6379' };
}

export interface QueueBackendSettings {
  databaseUrl: string;
  redisUrl: string;
  /** Redis key prefix (TRACKLINE_REDIS_PREFIX); PostgreSQL's queues are namespaced by the database. */
  redisPrefix: string;
  /** Build what workers need too (Redis: their own connection; PostgreSQL: a larger pool). */
  workers: boolean;
  /** Bring the PostgreSQL queue schema up to date (else only check it). */
  migrate: boolean;
}

export async function connectQueueBackend(kind: QueueBackendKind, settings: QueueBackendSettings): Promise<QueueBackend> {
  if (kind === 'redis') return RedisQueueBackend.connect(settings.redisUrl, settings.redisPrefix, { workers: settings.workers });
  // Loaded only on this backend: a process with its queues in Redis never loads `pg`.
  const { PostgresQueueBackend } = await import('./postgres-queue-backend.ts');
  return PostgresQueueBackend.connect(settings.databaseUrl, { workers: settings.workers, migrate: settings.migrate });
}
