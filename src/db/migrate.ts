import { join } from 'node:path';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { openDrizzle } from './client.ts';
import { PROJECT_ROOT } from './project-root.ts';

/** Committed SQL migrations (drizzle-kit generate, plus hand-written triggers), applied in order. */
export const MIGRATIONS_FOLDER = join(PROJECT_ROOT, 'drizzle');

export async function runMigrations(databaseUrl: string): Promise<void> {
  const { db, close } = openDrizzle(databaseUrl);
  try {
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER, migrationsSchema: 'drizzle' });
  } finally {
    await close();
  }
}
