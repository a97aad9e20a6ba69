import postgres from 'postgres';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { schema } from './schema.ts';

export type Database = PostgresJsDatabase<typeof schema>;
export type Sql = postgres.Sql;

export interface DbHandle {
  sql: Sql;
  close(): Promise<void>;
}

export class DatabaseUnavailableError extends Error {}

/**
 * Seconds before a pooled connection that lost its server tries to connect again. postgres.js
 * grows this as 3^n / 100 up to 20 s, shared by the whole pool, and a query handed to a closed
 * connection waits it out: after a few refused connects during a Postgres restart, every request
 * hung for up to 20 s, past the restart, instead of failing fast (a 503) and recovering at once.
 * A refused connect is cheap, so retrying every quarter second or so costs nothing.
 */
export const reconnectBackoff = () => 0.1 + Math.random() * 0.15;

export interface DatabaseOptions {
  max?: number;
  /**
   * Longest any one statement may run, waits for locks included, in ms (0 or absent: no limit).
   * Sent by the client as the connection's `statement_timeout` when it connects, so it holds
   * for every query of the pool without any server configuration: a query stuck behind a lock
   * fails with SQLSTATE 57014, which jobs retry (support/storage-errors.ts), instead of holding
   * a worker slot for as long as the lock lasts.
   */
  statementTimeoutMs?: number;
}

export function openDatabase(url: string, options: DatabaseOptions = {}): DbHandle {
  const sql = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 5,
    backoff: reconnectBackoff,
    ...(options.statementTimeoutMs ? { connection: { statement_timeout: options.statementTimeoutMs } } : {}),
  });
  return { sql, close: () => sql.end({ timeout: 5 }) };
}

/**
 * A Drizzle instance on its own client. Drizzle's postgres-js driver replaces the client's JSON
 * serializers and parsers with pass-through ones, so sharing a client would break `sql.json()`
 * and jsonb reads in the hand-written queries.
 */
export function openDrizzle(url: string): { db: Database; close(): Promise<void> } {
  const client = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  return { db: drizzle(client, { schema }), close: () => client.end({ timeout: 5 }) };
}

/**
 * Creates the database named in the URL when it is missing (DESIGN 4.1), by connecting to the
 * server's `postgres` database. A server that cannot be reached becomes one line saying how to
 * start it.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${name}`;
    if (rows.length === 0) {
      try {
        await sql.unsafe(`create database "${name.replace(/"/g, '""')}"`);
      } catch (error) {
        // Two processes starting at once may both try; the loser finds it made.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
  } catch (error) {
    throw new DatabaseUnavailableError(describeConnectError('PostgreSQL', target, error));
  } finally {
    await sql.end({ timeout: 2 });
  }
}

export function describeConnectError(what: string, url: URL, error: unknown): string {
  const code = (error as { code?: string }).code ?? (error as Error).message;
  const where = `${url.hostname}:${url.port || (what === 'Redis' ? 6379 : 5432)}`;
  const how =
    what === 'Redis'
      ? 'start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 (or docker compose up redis)'
      : 'start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or docker compose up postgres)';
  return `cannot reach ${what} at ${where} (${code}); ${how}`;
}
