import type { Sql } from '../db/client.ts';

/**
 * A transaction whose BEGIN goes out in the same socket write as its first statements, instead of
 * being sent and answered on its own first (postgres.js `sql.begin` awaits it): one round trip
 * and one socket write less for every transaction. The events intake commits one per request
 * batch, so at a moderate rate this is one round trip less between a POST and its 202 (and its
 * reconcile). The statements `fn` sends run on one reserved connection, in order.
 *
 * BEGIN on a connection that is idle cannot fail short of losing the connection, and then every
 * statement after it fails too. A statement that fails without being awaited by `fn` aborts the
 * transaction; COMMIT then answers ROLLBACK instead of an error, which is checked, so nothing is
 * ever reported committed that was not.
 */
export async function pipelinedTransaction<T>(sql: Sql, fn: (tx: Sql) => Promise<T>): Promise<T> {
  const tx = (await sql.reserve()) as unknown as Sql & { release(): void };
  try {
    const begun = tx`begin`.execute();
    begun.catch(() => undefined);
    let result: T;
    try {
      result = await fn(tx);
      await begun;
      const done = await tx`commit`;
      if (done.command !== 'COMMIT') throw new Error(`the transaction was rolled back (${done.command} at commit)`);
    } catch (error) {
      await tx`rollback`.catch(() => undefined);
      throw error;
    }
    return result;
  } finally {
    tx.release();
  }
}
