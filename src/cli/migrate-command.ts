import { parseEnv } from '../config/env.ts';
import { ensureDatabase } from '../db/client.ts';
import { runMigrations } from '../db/migrate.ts';

export async function runMigrate(): Promise<number> {
  const env = parseEnv();
  await ensureDatabase(env.DATABASE_URL);
  await runMigrations(env.DATABASE_URL);
  const url = new URL(env.DATABASE_URL);
  console.log(`✓ database ${url.pathname.slice(1)} on ${url.host} is up to date`);
  return 0;
}
