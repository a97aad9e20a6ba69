import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.ts';
import { pipelinedTransaction } from '../../src/support/pipelined-transaction.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('pipelined_tx', { workers: false });
  await h.sql`create table if not exists pipelined_probe (n int primary key)`;
});
afterAll(async () => h?.close());

const stored = async () => (await h.sql<{ n: number }[]>`select n from pipelined_probe order by n`).map((r) => r.n);

describe('pipelinedTransaction', () => {
  it('commits what its statements wrote, as one transaction', async () => {
    const answer = await pipelinedTransaction(h.sql, async (tx) => {
      await tx`insert into pipelined_probe values (1), (2)`;
      const [row] = await tx<{ txid: string }[]>`select txid_current()::text as txid`;
      const [again] = await tx<{ txid: string }[]>`select txid_current()::text as txid`;
      expect(again.txid).toBe(row.txid);
      return 'done';
    });
    expect(answer).toBe('done');
    expect(await stored()).toEqual([1, 2]);
  });

  it('stores nothing when the function throws', async () => {
    await expect(
      pipelinedTransaction(h.sql, async (tx) => {
        await tx`insert into pipelined_probe values (3)`;
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await stored()).toEqual([1, 2]);
  });

  it('stores nothing and throws when a statement nobody awaited failed (COMMIT answers ROLLBACK)', async () => {
    await expect(
      pipelinedTransaction(h.sql, async (tx) => {
        await tx`insert into pipelined_probe values (4)`;
        void tx`insert into pipelined_probe values (1)`.execute().catch(() => undefined);
      }),
    ).rejects.toThrow(/rolled back/);
    expect(await stored()).toEqual([1, 2]);
  });
});
