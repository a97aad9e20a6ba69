import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { EventBatcher } from '../../src/intake/event-batcher.ts';

let h: Harness;
beforeAll(async () => {
  // No workers: this file is about what the intake accepts, refuses and records.
  h = await startHarness('events_api', { workers: false });
});
afterAll(async () => h?.close());

async function counts() {
  const [row] = await h.sql<{ items: string; deliveries: string; activity: string; mappings: string; comments: string }[]>`
    select (select count(*) from items) as items, (select count(*) from deliveries) as deliveries,
      (select count(*) from activity) as activity, (select count(*) from mappings) as mappings, (select count(*) from comments) as comments`;
  return row;
}

async function errorOf(res: Response) {
  const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
  return body.error;
}

const upsert = (key: string, item: Record<string, unknown> = {}) => ({
  type: 'item.upserted',
  item: { key, title: `Title of ${key}`, ...item },
});

describe('POST /v1/events: bad input is refused and changes nothing', () => {
  it('401 without a token, and with a wrong one', async () => {
    const before = await counts();
    const none = await h.app.request('/v1/events', {
      method: 'POST',
      body: JSON.stringify(upsert('a/1')),
      headers: { 'content-type': 'application/json' },
    });
    expect(none.status).toBe(401);
    expect((await errorOf(none)).code).toBe('unauthorized');
    const wrong = await h.postEvents(upsert('a/1'), { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  it('400 on malformed JSON', async () => {
    const before = await counts();
    const res = await h.postEvents('{"type": "item.upserted", "item": {');
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('invalid_json');
    expect(error.requestId).toBeTruthy();
    expect(await counts()).toEqual(before);
  });

  it('400 naming the field on a wrong type', async () => {
    const before = await counts();
    const res = await h.postEvents(upsert('a/1', { labels: 'backend' }));
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/^item\.labels: /);
    const batch = await h.postEvents({ events: [upsert('a/1'), upsert('a/2', { title: 42 })] });
    expect(batch.status).toBe(400);
    expect((await errorOf(batch)).message).toMatch(/^events\[1\]\.item\.title: /);
    const type = await h.postEvents({ type: 'item.exploded', item: { key: 'x' } });
    expect(type.status).toBe(400);
    expect(await counts()).toEqual(before);
  });

  it('413 over 1 MiB', async () => {
    const before = await counts();
    const res = await h.postEvents(upsert('a/big', { body: 'x'.repeat(1024 * 1024 + 10) }));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('payload_too_large');
    expect(await counts()).toEqual(before);
  });

  it('400 on more than 500 events, and on a link to an unknown connection', async () => {
    const before = await counts();
    const many = await h.postEvents({ events: Array.from({ length: 501 }, (_, i) => upsert(`m/${i}`)) });
    expect(many.status).toBe(400);
    expect((await errorOf(many)).message).toMatch(/^events: at most 500/);
    const link = await h.postEvents(upsert('a/1', { links: { 'jira-nowhere': 'X-1' } }));
    expect(link.status).toBe(400);
    expect((await errorOf(link)).message).toContain('unknown connection "jira-nowhere"');
    expect(await counts()).toEqual(before);
  });
});

describe('POST /v1/events: accepted events are durable', () => {
  it('records one event: item, version, activity, mapping to sync, delivery', async () => {
    const res = await h.postEvents({
      ...upsert('user-auth/WP02', { kind: 'work_package', state: 'doing', labels: ['backend'], priority: 'high' }),
      actor: 'agent:planner',
      comment: 'Stage: analysis -> development',
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { events: { id: string; key: string; version: number }[] };
    expect(body.events).toHaveLength(1);
    expect(body.events[0]).toMatchObject({ key: 'user-auth/WP02', version: 1 });
    const [item] = await h.sql`select desired, version from items where key = 'user-auth/WP02'`;
    expect(item.desired).toMatchObject({ title: 'Title of user-auth/WP02', state: 'doing', labels: ['backend'], priority: 'high' });
    const [mapping] =
      await h.sql`select status, synced_version from mappings where item_key = 'user-auth/WP02' and connection_id = 'plane-main'`;
    expect(mapping).toMatchObject({ status: 'pending' });
    const [comment] = await h.sql`select body, actor from comments where item_key = 'user-auth/WP02'`;
    expect(comment).toMatchObject({ body: 'Stage: analysis -> development', actor: 'agent:planner' });
    // Enqueued for the worker: one reconcile job for the pair. The answer waits for the commit,
    // not for the enqueue (README, Intake), which can land a moment later.
    const jobs = await waitFor(async () => {
      const found = await h.runtime.queues.reconcile.getJobs(['waiting', 'delayed', 'active']);
      return found.length > 0 ? found : null;
    }, 2_000);
    expect(jobs.map((j) => j.data)).toContainEqual(expect.objectContaining({ connectionId: 'plane-main', itemKey: 'user-auth/WP02' }));
  });

  it('a batch bumps versions in order and only changed fields reach the activity trail', async () => {
    const res = await h.postEvents({
      events: [
        upsert('b/1', { state: 'planned' }),
        upsert('b/1', { state: 'doing' }),
        upsert('b/1', { state: 'doing' }),
        { type: 'item.comment', key: 'b/1', comment: 'hi' },
      ],
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { events: { version: number }[] };
    expect(body.events.map((e) => e.version)).toEqual([1, 2, 3, 4]);
    const trail = await h.api('GET', '/v1/items/b%2F1/activity');
    const { activity } = (await trail.json()) as {
      activity: { action: string; field: string | null; from: unknown; to: unknown; actor: string }[];
    };
    const stateChanges = activity.filter((a) => a.field === 'state').map((a) => [a.from, a.to]);
    expect(stateChanges).toEqual([
      [null, 'planned'],
      ['planned', 'doing'],
    ]);
    expect(activity.every((a) => a.actor === 'orchestrator')).toBe(true);
    expect(activity.map((a) => a.action)).toContain('comment.added');
  });

  it('Idempotency-Key replays the first answer and refuses a different body', async () => {
    const first = await h.postEvents(upsert('idem/1', { state: 'doing' }), { 'idempotency-key': 'key-123' });
    const firstBody = await first.json();
    const again = await h.postEvents(upsert('idem/1', { state: 'doing' }), { 'idempotency-key': 'key-123' });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(firstBody);
    const [item] = await h.sql`select version from items where key = 'idem/1'`;
    expect(Number(item.version)).toBe(1);
    const other = await h.postEvents(upsert('idem/1', { state: 'done' }), { 'idempotency-key': 'key-123' });
    expect(other.status).toBe(422);
  });

  it('concurrent requests for one new item serialize: versions 1..N, no lost field', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => h.postEvents(upsert('race/1', { [`title`]: `t${i}` }))));
    expect(results.every((r) => r.status === 202)).toBe(true);
    const versions = (await Promise.all(results.map((r) => r.json())))
      .map((b) => (b as { events: { version: number }[] }).events[0].version)
      .sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});

describe('GET /v1/items', () => {
  it('404 for an unknown item, with the error envelope', async () => {
    const res = await h.api('GET', '/v1/items/nope%2Fnothing');
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('not_found');
  });

  it('shows the item with its pending connection', async () => {
    await h.postEvents(upsert('show/1', { state: 'doing' }));
    const res = await h.api('GET', '/v1/items/show%2F1');
    expect(res.status).toBe(200);
    const item = (await res.json()) as {
      key: string;
      version: number;
      fields: Record<string, unknown>;
      connections: { connection: string; status: string }[];
    };
    expect(item).toMatchObject({ key: 'show/1', version: 1, fields: { state: 'doing' } });
    expect(item.connections).toEqual([expect.objectContaining({ connection: 'plane-main', status: 'pending', remoteKey: null })]);
  });
});

describe('health', () => {
  it('/healthz and /readyz answer', async () => {
    expect((await h.app.request('/healthz')).status).toBe(200);
    const ready = await h.app.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual(
      h.queueBackend === 'redis'
        ? { status: 'ready', postgres: 'ok', redis: 'ok' }
        : { status: 'ready', postgres: 'ok', queues: 'ok', queue_backend: 'postgres' },
    );
  });
});

describe('the activity table is append-only in the database', () => {
  it('UPDATE, DELETE and TRUNCATE fail', async () => {
    await h.postEvents(upsert('audit/1'));
    await expect(h.sql`update activity set actor = 'someone-else'`).rejects.toThrow(/append-only/);
    await expect(h.sql`delete from activity`).rejects.toThrow(/append-only/);
    await expect(h.sql`truncate activity`).rejects.toThrow(/append-only/);
    const [row] = await h.sql`select count(*)::int as n from activity where actor <> 'orchestrator' and actor not like 'sync:%'`;
    expect(row.n).toBe(0);
  });
});

describe('POST /v1/events: group commit', () => {
  it('concurrent requests share transactions; each is committed, with its delivery, before it is answered, and its reconcile follows', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `group/${i}`);
    const answers = await Promise.all(keys.map((key) => h.postEvents(upsert(key, { state: 'doing' }))));
    expect(answers.map((a) => a.status)).toEqual(keys.map(() => 202));
    const bodies = (await Promise.all(answers.map((a) => a.json()))) as { events: { id: string; key: string; version: number }[] }[];
    expect(bodies.map((b) => b.events.map((e) => [e.key, e.version]))).toEqual(keys.map((k) => [[k, 1]]));
    const deliveries = await h.sql<
      { item_key: string; created_at: Date }[]
    >`select item_key, created_at from deliveries where kind = 'event' and item_key like 'group/%'`;
    expect(deliveries.map((d) => d.item_key).sort()).toEqual([...keys].sort());
    // Rows written in one transaction share its now(): fewer commit times than requests.
    expect(new Set(deliveries.map((d) => d.created_at.getTime())).size).toBeLessThan(keys.length);
    // Every item's reconcile job is queued (no workers run in this file); it is enqueued beside the answer.
    await waitFor(async () => {
      const jobs = await h.runtime.queues.reconcile.getJobs(['waiting', 'prioritized']);
      const queued = new Set(jobs.map((j) => j.data.itemKey));
      return keys.every((k) => queued.has(k));
    });
  });

  it('answers once committed without waiting for Redis, up to a bound; past it, answers wait for their enqueue', async () => {
    // Redis that holds every enqueue until released.
    const held: Array<{ keys: string[]; release: () => void }> = [];
    const slowQueues = {
      enqueueReconcile: (jobs: { itemKey: string }[]) =>
        new Promise<void>((release) => held.push({ keys: jobs.map((j) => j.itemKey), release })),
    };
    const batcher = new EventBatcher(h.sql, h.runtime.connections, slowQueues as never, h.runtime.log, { maxBackgroundEnqueues: 1 });
    const request = (key: string) => ({ events: [{ type: 'item.upserted' as const, item: { key, title: key } }], request: {} });
    // The first is answered while its reconcile is still on the way.
    expect((await batcher.accept(request('bg/1'))).kind).toBe('recorded');
    expect(held.map((h) => h.keys)).toEqual([['bg/1']]);
    // The second is committed, but not answered until an enqueue is let through.
    let answered = false;
    const second = batcher.accept(request('bg/2')).then(() => (answered = true));
    await waitFor(() => held.length === 2);
    expect(await h.sql`select key from items where key = 'bg/2'`).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false);
    held[1].release();
    await second;
    held[0].release();
    await batcher.drained();
  });

  it('one Idempotency-Key sent five times at once: recorded once, the other four replay its answer', async () => {
    const body = upsert('group/idem', { state: 'done' });
    const answers = await Promise.all(Array.from({ length: 5 }, () => h.postEvents(body, { 'idempotency-key': 'group-key-1' })));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(4);
    const bodies = await Promise.all(answers.map((a) => a.json()));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    const [item] = await h.sql`select version from items where key = 'group/idem'`;
    expect(Number(item.version)).toBe(1);
    // The same key with another body, at the same time as a copy of the first: refused, not recorded.
    const [copy, other] = await Promise.all([
      h.postEvents(body, { 'idempotency-key': 'group-key-1' }),
      h.postEvents(upsert('group/idem', { state: 'planned' }), { 'idempotency-key': 'group-key-1' }),
    ]);
    expect(copy.status).toBe(202);
    expect(other.status).toBe(422);
    expect((await errorOf(other)).code).toBe('idempotency_key_reused');
    const [after] = await h.sql`select version, desired->>'state' as state from items where key = 'group/idem'`;
    expect([Number(after.version), after.state]).toEqual([1, 'done']);
  });

  it('a batch costs the same few statements whatever it holds, each with one text for every batch size (prepared once)', async () => {
    const statements: string[] = [];
    const sql = postgres(h.databaseUrl, { max: 1, onnotice: () => {}, debug: (_connection, query) => void statements.push(query) });
    try {
      await sql`select 1`; // connected (and its type lookup done) before counting
      const batcher = new EventBatcher(sql, h.runtime.connections, h.runtime.queues, h.runtime.log);
      const request = (key: string, n: number) => ({
        events: Array.from({ length: n }, (_, i) => ({
          type: 'item.upserted' as const,
          item: { key: `${key}/${i % 3}`, kind: 'work_package', title: `${key} ${i}`, state: 'doing', labels: ['backend'] },
          comment: i % 2 ? 'a note' : undefined,
        })),
        request: {},
      });
      const batch = async (sizes: number[], prefix: string) => {
        const before = statements.length;
        const answers = await Promise.all(sizes.map((n, i) => batcher.accept(request(`${prefix}/${i}`, n))));
        expect(answers.every((a) => a.kind === 'recorded')).toBe(true);
        return statements.slice(before);
      };
      const small = await batch([1], 'stmts/small');
      const large = await batch([1, 4, 7, 2, 9], 'stmts/large');
      expect(batcher.stats.batches).toBe(2);
      // begin, plan mode, create missing items, lock them, every write in one statement, commit.
      expect(small).toHaveLength(6);
      expect(large).toEqual(small);
      const [trail] = await h.sql<{ n: number }[]>`select count(*)::int as n from activity where item_key like 'stmts/large/%'`;
      expect(trail.n).toBeGreaterThan(30);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it('requests in one batch apply in arrival order; one that fails is refused alone and its neighbours are recorded', async () => {
    const batcher = new EventBatcher(h.sql, h.runtime.connections, h.runtime.queues, h.runtime.log);
    const request = (key: string, title: string, links?: Record<string, string>) => ({
      events: [{ type: 'item.upserted' as const, item: { key, title, ...(links ? { links } : {}) } }],
      request: {},
    });
    const [first, second, bad, third] = await Promise.allSettled([
      batcher.accept(request('group/order', 'first')),
      batcher.accept(request('group/order', 'second')),
      // Past the route's checks (a caller of the batcher could skip them): fails inside the transaction.
      batcher.accept(request('group/bad', 'bad', { 'no-such-connection': 'X-1' })),
      batcher.accept(request('group/order', 'third')),
    ]);
    expect(bad.status).toBe('rejected');
    expect(batcher.stats.fallbacks).toBe(1);
    const versions = [first, second, third].map((r) =>
      r.status === 'fulfilled' && r.value.kind === 'recorded' ? r.value.accepted[0].version : null,
    );
    expect(versions).toEqual([1, 2, 3]);
    const [item] = await h.sql`select version, desired->>'title' as title from items where key = 'group/order'`;
    expect([Number(item.version), item.title]).toEqual([3, 'third']);
    expect(await h.sql`select 1 from items where key = 'group/bad'`).toEqual([]);
  });
});
