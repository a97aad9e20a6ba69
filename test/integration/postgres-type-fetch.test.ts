import { createServer, connect, type Server, type Socket } from 'node:net';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_ADMIN_URL } from '../support/harness.ts';

/**
 * patches/postgres+3.4.9.patch: postgres.js fetches the array types as the first statement of a
 * new connection, in a promise nothing awaits; when that connection dropped during the fetch, the
 * rejection was unhandled and ended the process (porsager/postgres#1192). The fault suite met it as
 * a Postgres restart under load ended `trackline start` about one run in four. Here a proxy drops
 * the first connection exactly when the type query goes through it; the query the caller sent
 * must fail or succeed on its own, and the process must see no unhandled rejection.
 */
describe('postgres.js: a connection lost while it fetches the array types', () => {
  let proxy: Server;
  let port = 0;
  let dropped = 0;
  const target = new URL(PG_ADMIN_URL);

  beforeAll(async () => {
    proxy = createServer((client: Socket) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      let first = dropped === 0;
      client.on('data', (chunk) => {
        if (first && chunk.includes('pg_catalog.pg_type')) {
          first = false;
          dropped++;
          // A reset, as a restarting Postgres gives (ECONNRESET): postgres.js fails the connection's
          // queries, its type query among them; a clean close would reconnect silently.
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => client.write(chunk));
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    port = (proxy.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });

  it('fails only the waiting query, and the next one works on a new connection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const url = new URL(PG_ADMIN_URL);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    const sql = postgres(url.toString(), { max: 1, onnotice: () => {}, connect_timeout: 5 });
    try {
      const first = await sql`select 1 as one`.then(
        (rows) => ({ ok: true as const, rows }),
        (error: Error) => ({ ok: false as const, error }),
      );
      // The drop happened during the type fetch, before the query itself went out.
      expect(dropped).toBe(1);
      if (!first.ok) expect(first.error.message).toMatch(/CONNECTION_CLOSED|ECONNRESET|write|closed/i);
      const [again] = await sql<{ one: number }[]>`select 1 as one`;
      expect(again.one).toBe(1);
      // Array types were fetched on the new connection: an array parameter round-trips.
      const [arr] = await sql<{ xs: number[] }[]>`select ${sql.array([1, 2, 3])}::int[] as xs`;
      expect(arr.xs).toEqual([1, 2, 3]);
      // Unhandled rejections are reported after the microtask queue drains; give them a turn.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await sql.end({ timeout: 2 });
    }
  });
});
