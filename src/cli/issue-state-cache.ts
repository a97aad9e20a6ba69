import type { Redis } from 'ioredis';
import type { Sql } from '../db/client.ts';

/**
 * What `status --issues` read of an issue, kept for a while so running it again soon costs no
 * tracker budget. Where the queues are: Redis keys with an expiry, or (queues in PostgreSQL) rows
 * of the unlogged `status_cache` table (migration 0012) with an expiry on the server's clock.
 */
export interface IssueStateCache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, seconds: number): Promise<void>;
}

export function redisIssueStateCache(redis: Redis): IssueStateCache {
  return {
    get: (key) => redis.get(key),
    async set(key, value, seconds) {
      await redis.set(key, value, 'EX', seconds);
    },
  };
}

export function postgresIssueStateCache(sql: Sql): IssueStateCache {
  return {
    async get(key) {
      const [row] = await sql<{ value: string }[]>`
        select value from status_cache where key = ${key} and expires_at_ms > pacing_now_ms()`;
      return row?.value ?? null;
    },
    async set(key, value, seconds) {
      await sql`
        insert into status_cache (key, value, expires_at_ms) values (${key}, ${value}, pacing_now_ms() + ${seconds * 1000}::bigint)
        on conflict (key) do update set value = excluded.value, expires_at_ms = excluded.expires_at_ms`;
    },
  };
}
