import postgres from 'postgres';
import type { Redis } from 'ioredis';

/**
 * Removing what a test file or a benchmark run made: its database and its Redis keys. Shared by
 * the test harness and the benchmarks, so both clean up the same way.
 */
export async function dropDatabase(adminUrl: string, databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name.replace(/"/g, '""')}" with (force)`);
  } finally {
    await admin.end({ timeout: 2 });
  }
}

/** Deletes everything under the prefix. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  for (const pattern of [`${escapeGlob(prefix)}*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
