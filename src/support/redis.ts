import { Redis } from 'ioredis';
import { describeConnectError } from '../db/client.ts';

export class RedisUnavailableError extends Error {}

/**
 * Redis clients by role, as BullMQ's production guide asks:
 * - producers (the api) fail fast instead of buffering commands while Redis is away, so the
 *   intake can answer 503 at once rather than hang;
 * - workers retry forever (`maxRetriesPerRequest: null`), so a Redis restart pauses them
 *   instead of crashing them.
 */
export function createRedis(url: string, role: 'producer' | 'worker'): Redis {
  return new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}

export async function connectRedis(client: Redis, url: string): Promise<void> {
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new RedisUnavailableError(describeConnectError('Redis', new URL(url), error));
  }
}
