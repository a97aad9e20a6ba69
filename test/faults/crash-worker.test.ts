import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { spawnTrackline, type Child } from '../support/child-process.ts';
import { LOCAL_STATES, duplicatedItems, issuesByItem, remoteFields, rng, waitSettled, type Fields } from './support/fault-helpers.ts';

/**
 * DESIGN 5.1-5.3 under crashes: a real `trackline worker` process is SIGKILLed at random moments
 * while 500 events (creates and updates across 100 items) stream in, and restarted each time.
 * Some tracker writes are answered late (the write happens, the answer is held back), so kills
 * often land between a write reaching Plane and the worker learning its outcome.
 */
const SEED = Number(process.env.FAULTS_SEED ?? Date.now() % 1_000_000);
const ITEMS = 100;
const EVENTS = 500;

let h: Harness;
const children: Child[] = [];

beforeAll(async () => {
  h = await startHarness('faults_crash', {
    workers: false,
    // Items move back from done at random: reopen = "allow" (the re-open guard is not this test's subject).
    plane: { reopen: 'allow' },
    // The default lock (no lock_duration: 10 s, so a killed worker's jobs are taken over within
    // 14 s), as a user runs it; enough attempts and backoff to ride out the crashes without a job
    // failing for good.
    config: {
      worker: { concurrency: 8, attempts: 10, backoff: '200ms', request_timeout: '3s', coalesce_window: '200ms' },
    },
  });
});
afterAll(async () => {
  for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
  await h?.close();
});

function spawnWorker(): Child {
  const child = spawnTrackline(h, ['worker']);
  children.push(child);
  return child;
}

describe(`SIGKILL a worker during 500 syncs (seed ${SEED})`, () => {
  it('every item ends in its last state in Plane, and no item has two issues', async () => {
    const r = rng(SEED);
    const expected = new Map<string, Required<Fields>>();
    const labels = ['backend', 'frontend', 'db', 'ops', 'docs'];
    const events: { key: string; item: Fields }[] = [];
    let created = 0;
    for (let i = 0; i < EVENTS; i++) {
      // Creates are spread through the run (each event is a create with the odds that leave
      // exactly ITEMS of them), so kills land during creates as well as updates.
      const create = created < ITEMS && (expected.size === 0 || r.next() < (ITEMS - created) / (EVENTS - i));
      const key = create ? `crash/${created++}` : `crash/${r.int(0, created - 1)}`;
      const prev = expected.get(key);
      const item: Fields = prev
        ? {
            ...(r.next() < 0.6 ? { state: r.pick(LOCAL_STATES) } : {}),
            ...(r.next() < 0.5 ? { title: `${key} v${i}` } : {}),
            ...(r.next() < 0.4 ? { labels: r.subset(labels) } : {}),
          }
        : { title: `${key} v${i}`, state: r.pick(LOCAL_STATES), labels: r.subset(labels) };
      if (prev && Object.keys(item).length === 0) item.state = r.pick(LOCAL_STATES);
      expected.set(key, {
        ...(prev ?? { title: '', state: '', labels: [] }),
        ...item,
        ...(item.labels ? { labels: [...item.labels].sort() } : {}),
      } as Required<Fields>);
      events.push({ key, item });
    }
    expect(created).toBe(ITEMS);

    let worker = spawnWorker();
    let kills = 0;
    let sending = true;
    // The killer: every 1.5-3.5 s, hold the next few tracker writes' answers back, then kill the
    // worker while they are in flight, and start a new one (sometimes at once, sometimes later).
    const killer = (async () => {
      while (sending || kills < 8) {
        await new Promise((res) => setTimeout(res, r.int(1500, 3000)));
        // Faults left from the last round would be taken first and keep these from firing.
        h.sandbox.faults.clear();
        const served = h.sandbox.faults.served;
        h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', delayAfterMs: 1500, times: r.int(1, 3) });
        h.sandbox.faults.inject({
          tracker: 'plane',
          method: 'PATCH',
          pathIncludes: '/work-items/',
          delayAfterMs: 1500,
          times: r.int(1, 3),
        });
        // Kill while a held answer is on the wire: wait for a write to take one (a new worker can
        // take several seconds to start on a busy machine, and with the default 10 s lock a killed
        // worker's jobs wait for their takeover, so a kill at a random moment often finds no write
        // in flight).
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline && h.sandbox.faults.served === served) await new Promise((res) => setTimeout(res, 20));
        await new Promise((res) => setTimeout(res, r.int(50, 400)));
        worker.process.kill('SIGKILL');
        await worker.exited;
        kills++;
        if (r.next() < 0.5) await new Promise((res) => setTimeout(res, r.int(100, 1500)));
        worker = spawnWorker();
      }
    })();

    // 500 events in requests of 1-10, spread over ~20 s so the kills land all through the load.
    for (let i = 0; i < events.length; ) {
      const batch = events.slice(i, i + r.int(1, 10));
      i += batch.length;
      const res = await h.postEvents({ events: batch.map((e) => ({ type: 'item.upserted', item: { key: e.key, ...e.item } })) });
      expect(res.status).toBe(202);
      await new Promise((res) => setTimeout(res, r.int(50, 350)));
    }
    sending = false;
    await killer;
    h.sandbox.faults.clear();

    try {
      await waitSettled(h, 90_000);
    } catch (error) {
      const stuck =
        await h.sql`select m.item_key, m.status, m.synced_version, i.version, m.last_error from mappings m join items i on i.key = m.item_key
        where m.synced_version < i.version or m.status <> 'synced' limit 10`;
      throw new Error(`not settled after the crashes (seed ${SEED}): ${JSON.stringify(stuck)}\n${worker.output().slice(-3000)}`, {
        cause: error,
      });
    }

    expect(kills).toBeGreaterThanOrEqual(8);
    expect(duplicatedItems(h)).toEqual([]);
    const byItem = issuesByItem(h);
    expect(byItem.size).toBe(ITEMS);
    const wrong: unknown[] = [];
    for (const [key, want] of expected) {
      const issue = byItem.get(key)?.[0];
      const got = issue ? remoteFields(h, issue) : null;
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push({ key, want, got });
    }
    // A wrong item here is most likely the known lost update pinned down by the next test (a write
    // that landed just before its worker was killed, then the item moved back to its old value).
    expect(wrong, `seed ${SEED}; see 'a write that landed just before its worker was killed'`).toEqual([]);
    // The kills did land mid-write: Plane applied writes whose answers never reached a worker
    // (logged with status 0 when the killed worker's socket closed during the held answer).
    const lost = h.sandbox.log.writes({ tracker: 'plane', status: 0 }).length;
    const [recovered] = await h.sql<{ n: number }[]>`select count(*)::int as n from activity where action = 'remote.recovered'`;
    console.log(
      `[crash] seed ${SEED}: ${kills} kills, ${lost} writes applied but unanswered, ${recovered.n} creates adopted after a kill, ${h.sandbox.log.writes({ tracker: 'plane' }).length} Plane writes`,
    );
    expect(lost).toBeGreaterThan(0);
  }, 300_000);
});

/**
 * A lost update, found by the test above (DESIGN 5.3; it failed with some seeds for this reason),
 * kept as a regression test. A worker writes state "done" to Plane and is killed before it records
 * the new base; the orchestrator then moves the item back to the value the base still holds. The
 * next reconcile used to see no local change (local equals the stale base), write nothing, and
 * record the item as synced: Plane kept "done" for good. The push intent (`mappings.pending_push`,
 * the fields and values being pushed) is now recorded before the call, so the next attempt reads
 * the issue and takes a match as its own write landing.
 */
describe('a write that landed just before its worker was killed', () => {
  it('is not left in Plane when the item moves back to its previous value', async () => {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    let worker = spawnWorker();
    await h.postEvents({ type: 'item.upserted', item: { key: 'crash/landed', title: 'landed', state: 'for_review' } });
    await waitSettled(h, 60_000);
    const issue = issuesByItem(h).get('crash/landed')![0]!;

    // Plane applies the next write at once but holds its answer back.
    h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', pathIncludes: issue.id, delayAfterMs: 10_000, times: 1 });
    await h.postEvents({ type: 'item.upserted', item: { key: 'crash/landed', state: 'done' } });
    await waitFor(() => remoteFields(h, h.sandbox.plane.issue(h.project.projectId, issue.id)!).state === 'done', 10_000, 10);
    worker.process.kill('SIGKILL');
    await worker.exited;
    h.sandbox.faults.clear();

    await h.postEvents({ type: 'item.upserted', item: { key: 'crash/landed', state: 'for_review' } });
    worker = spawnWorker();
    await waitSettled(h, 60_000);
    const local = await h.sql<{ desired: Fields }[]>`select desired from items where key = 'crash/landed'`;
    expect(local[0]!.desired.state).toBe('for_review');
    expect(remoteFields(h, h.sandbox.plane.issue(h.project.projectId, issue.id)!).state).toBe('for_review');
  }, 180_000);
});

/**
 * Takeover with the default settings (worker.lock_duration 10 s): a worker killed while its create
 * is on the wire (Plane applies it and holds the answer) leaves a job whose lock nobody renews.
 * The restarted worker takes it over once the lock has expired and a stalled check has seen it,
 * within 1.4 × lock_duration, and adopts the issue by its marker instead of creating another.
 */
describe('a create whose worker was killed mid-call', () => {
  it('is taken over within 1.4 × the default lock (14 s) and leaves one issue', async () => {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    let worker = spawnWorker();
    await waitSettled(h, 60_000);
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', delayAfterMs: 60_000, times: 1 });
    await h.postEvents({ type: 'item.upserted', item: { key: 'crash/takeover', title: 'taken over' } });
    await waitFor(() => issuesByItem(h).has('crash/takeover'), 40_000, 10);
    worker.process.kill('SIGKILL');
    await worker.exited;
    const killedAt = Date.now();
    h.sandbox.faults.clear();
    worker = spawnWorker();
    await waitFor(
      () =>
        h.sql`select count(*)::int as n from mappings where item_key = 'crash/takeover' and status = 'synced'`.then((r) => r[0].n === 1),
      40_000,
      50,
    );
    const tookMs = Date.now() - killedAt;
    console.log(`[crash] takeover of a killed create took ${tookMs} ms`);
    // 14 s at most by the settings once a worker runs (10-11 s measured on a quiet machine); the
    // restarted worker's own start-up comes on top on a busy one (up to ~10 s at a load average of
    // 14 on 2 cores). The old 30 s lock took 30-45 s after the lock alone.
    expect(tookMs).toBeLessThan(30_000);
    expect(issuesByItem(h).get('crash/takeover')).toHaveLength(1);
  }, 180_000);
});
