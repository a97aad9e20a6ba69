import pg from 'pg';
import { DEFAULT_SCHEMA, assertSchemaCompatibility, createPostgresBackend, runMigrations, withBackend, type Processor } from 'bullmq';
import type { AnyQueue, AnyQueueEvents, AnyWorker, QueueBackend, WorkerTuning } from './queue-backend.ts';

/** BullMQ's classes bound to its PostgreSQL backend (the process-wide default stays Redis). */
const Postgres = withBackend(createPostgresBackend);

/**
 * The schema the queue tables and functions live in, beside Trackline's own tables in the same
 * database. BullMQ's name for it: a backend handed a ready pool (as it must be under ESM, where it
 * cannot load `pg` itself) checks its migration ledger there, and resolves its SQL through the
 * pool's search_path, which is therefore pinned to it.
 */
export const QUEUE_SCHEMA = DEFAULT_SCHEMA;

/**
 * Connections the pool may hold. Each worker and each event listener keeps one for LISTEN for its
 * whole life (six workers and the plan listener); the rest serve the queries: claiming, finishing
 * and lock renewals of up to `worker.concurrency` jobs, and the api's enqueues.
 */
const LISTENERS = 7;
const QUERY_CONNECTIONS = { api: 8, workers: 16 };

/**
 * The queues in PostgreSQL (BullMQ's PostgreSQL backend): one `pg` pool on DATABASE_URL for every
 * queue, worker and listener of the process, so nothing needs Redis. Jobs are rows claimed with
 * `FOR UPDATE SKIP LOCKED`; workers wake on LISTEN/NOTIFY. The pool is Trackline's, so it is
 * ended here, after the queues and workers that borrow it are closed.
 */
export class PostgresQueueBackend implements QueueBackend {
  readonly kind = 'postgres' as const;
  readonly describe: string;

  /** Every connection the pool opened and has not dropped, so close() can end leftovers. */
  private readonly clients = new Set<pg.PoolClient>();
  /** The workers and listeners built here, so close() can stop any still running first. */
  private readonly consumers = new Set<{ close(force?: boolean): Promise<void> }>();

  private constructor(
    readonly pool: pg.Pool,
    url: URL,
  ) {
    this.describe = `PostgreSQL at ${url.host}, database ${url.pathname.slice(1)}, schema ${QUEUE_SCHEMA}`;
    pool.on('connect', (client) => this.clients.add(client));
    pool.on('remove', (client) => this.clients.delete(client));
  }

  /**
   * Opens the pool, then brings the queue schema up to date (`migrate`, as `trackline start` and
   * `trackline migrate` do) or checks that it is (a process started without migrations).
   */
  static async connect(databaseUrl: string, options: { workers: boolean; migrate: boolean }): Promise<PostgresQueueBackend> {
    const pool = new pg.Pool({
      connectionString: databaseUrl,
      options: `-c search_path=${QUEUE_SCHEMA}`,
      max: LISTENERS + (options.workers ? QUERY_CONNECTIONS.workers : QUERY_CONNECTIONS.api),
      // An enqueue while the server is away fails after this instead of waiting for ever (the
      // outbox sweep enqueues it later); a LISTEN connection that drops is noticed and rebuilt.
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      application_name: 'trackline queues',
    });
    // An idle connection that drops emits 'error' on the pool; unheard, it would end the process.
    pool.on('error', () => {});
    // Every queue, worker and listener built on the pool adds its own 'error' listener (13 here).
    pool.setMaxListeners(64);
    try {
      await migrateQueueSchema(pool, { check: !options.migrate });
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }
    return new PostgresQueueBackend(pool, new URL(databaseUrl));
  }

  queue<D>(name: string): AnyQueue<D> {
    return new Postgres.Queue<D>(name, { connection: this.pool });
  }

  worker<D>(name: string, processor: Processor<D>, tuning: WorkerTuning): AnyWorker<D> {
    const worker = new Postgres.Worker<D>(name, processor, { ...tuning, connection: this.pool });
    this.consumers.add(worker);
    return worker;
  }

  queueEvents(name: string): AnyQueueEvents {
    const events = new Postgres.QueueEvents(name, { connection: this.pool });
    this.consumers.add(events);
    return events;
  }

  async ping(): Promise<void> {
    await this.pool.query('select 1');
  }

  /** The schedulers and jobs are rows: a server that comes back has kept them, nothing to put back. */
  onReconnect(): () => void {
    return () => {};
  }

  /**
   * Stops any worker or listener still running, then ends the pool. The pool's end waits for
   * every checked-out connection: after a grace those left are closed here instead, so shutdown
   * never hangs on one.
   */
  async close(): Promise<void> {
    // A worker still running when its pool ends retries its claim in a tight loop (each attempt
    // fails at once) and starves the event loop: stop any left running before the pool goes.
    await Promise.all([...this.consumers].map((consumer) => consumer.close(true).catch(() => {})));
    const ended = this.pool.end();
    const grace = new Promise<'late'>((r) => setTimeout(() => r('late'), 5_000).unref());
    if ((await Promise.race([ended, grace])) === 'late') {
      // Handing a connection back with `release(true)` makes the pool close it and drop it; one
      // released already throws, and is gone already.
      for (const client of this.clients) {
        try {
          client.release(true);
        } catch {}
      }
      await ended;
    }
  }
}

/**
 * Applies BullMQ's migrations for the queue schema (idempotent; an advisory lock serializes
 * processes starting together), or with `check` only verifies the schema is there and current.
 * Both need one session of their own, not the pool.
 */
export async function migrateQueueSchema(pool: pg.Pool, options: { check?: boolean } = {}): Promise<void> {
  const client = await pool.connect();
  try {
    if (options.check) await assertSchemaCompatibility(client, QUEUE_SCHEMA);
    else await runMigrations(client, QUEUE_SCHEMA);
  } finally {
    client.release();
  }
}
