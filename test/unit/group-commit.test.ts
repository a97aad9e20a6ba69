import { describe, expect, it } from 'vitest';
import { GroupCommit, type GroupEntry } from '../../src/support/group-commit.ts';

describe('GroupCommit', () => {
  it('entries of one event-loop turn form one batch; later ones gather while maxInFlight batches commit', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const group = new GroupCommit<number, number>(
      async (batch) => {
        batches.push(batch.map((e) => e.item));
        if (batches.length === 1) await gate;
        for (const e of batch) e.resolve(e.item * 10);
      },
      { maxInFlight: 1, maxBatch: 3 },
    );
    const first = [1, 2].map((n) => group.accept(n));
    await new Promise((r) => setImmediate(r));
    // The first batch is still committing: these wait, then go as batches of at most 3.
    const later = [3, 4, 5, 6].map((n) => group.accept(n));
    await new Promise((r) => setTimeout(r, 10));
    expect(batches).toEqual([[1, 2]]);
    release();
    expect(await Promise.all([...first, ...later])).toEqual([10, 20, 30, 40, 50, 60]);
    expect(batches).toEqual([[1, 2], [3, 4, 5], [6]]);
    expect(group.stats).toEqual({ batches: 3, entries: 6, largest: 3 });
  });

  it('a commit that throws rejects every entry of its batch; the next batch still runs', async () => {
    const group = new GroupCommit<string, string>(async (batch: GroupEntry<string, string>[]) => {
      if (batch.some((e) => e.item === 'bad')) throw new Error('storage is down');
      for (const e of batch) e.resolve(e.item);
    });
    const failed = await Promise.allSettled([group.accept('bad'), group.accept('neighbour')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await group.accept('fine')).toBe('fine');
  });

  it('retryLater puts entries at the front of the next batch', async () => {
    const batches: string[][] = [];
    let retried = false;
    const group = new GroupCommit<string, string>(async (batch) => {
      batches.push(batch.map((e) => e.item));
      const now = batch.filter((e) => retried || e.item !== 'again');
      const later = batch.filter((e) => !now.includes(e));
      retried = true;
      if (later.length) group.retryLater(later);
      for (const e of now) e.resolve(e.item);
    });
    expect(await Promise.all([group.accept('a'), group.accept('again')])).toEqual(['a', 'again']);
    expect(batches).toEqual([['a', 'again'], ['again']]);
  });
});
