import { existsSync } from 'node:fs';
import pg from 'pg';
import { parseEnv } from '../config/env.ts';
import { loadConfig } from '../config/load.ts';
import { ensureDatabase } from '../db/client.ts';
import { runMigrations } from '../db/migrate.ts';
import { chooseQueueBackend } from '../queues/connect-queue-backend.ts';
import { QUEUE_SCHEMA, migrateQueueSchema } from '../queues/postgres-queue-backend.ts';

export async function runMigrate(): Promise<number> {
  const env = parseEnv();
  await ensureDatabase(env.DATABASE_URL);
  await runMigrations(env.DATABASE_URL);
  const url = new URL(env.DATABASE_URL);
  console.log(`✓ database ${url.pathname.slice(1)} on ${url.host} is up to date`);
  // The queue schema too, when the queues are in PostgreSQL (`[queue] backend`, or its default).
  const configured = existsSync(env.TRACKLINE_CONFIG) ? loadConfig(env.TRACKLINE_CONFIG, process.env).queue.backend : undefined;
  const choice = await chooseQueueBackend(configured, process.env);
  if (choice.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 1 });
    try {
      await migrateQueueSchema(pool);
    } finally {
      await pool.end();
    }
    console.log(`✓ queue schema ${QUEUE_SCHEMA} is up to date (queue backend postgres: ${choice.reason})`);
  }
  return 0;
}
