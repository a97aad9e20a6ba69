import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.ts';

/**
 * Found by the fault suite (test/faults/outages.test.ts): while Postgres was down, postgres.js'
 * default reconnect backoff (3^n / 100 s, up to 20 s, shared by the pool) made each query wait
 * longer for its connection attempt, so the api's answers went from milliseconds to a 5 s client
 * timeout and stayed slow after Postgres was back. With the bounded backoff every query against
 * an unreachable server fails at once, however many failed before it.
 */
describe('the database pool while Postgres is unreachable', () => {
  it('fails every query fast, never waiting out a growing reconnect backoff', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const db = openDatabase(`postgres://postgres@127.0.0.1:${port}/nothing`, { max: 2 });
    try {
      for (let i = 0; i < 10; i++) {
        const started = performance.now();
        const error = await db.sql`select 1`.then(
          () => null,
          (e: { code?: string }) => e,
        );
        expect(error?.code).toBe('ECONNREFUSED');
        // The unbounded backoff reaches 20 s by the 6th query; 3 s leaves room for a busy machine
        // (a 1 s bound failed once while the whole suite ran in parallel).
        expect(performance.now() - started, `query ${i + 1}`).toBeLessThan(3000);
      }
    } finally {
      await db.close();
    }
  }, 20_000);
});
