import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { createLogger } from '../../src/support/logger.ts';

// Plane carries specs, GitHub tasks: a token limited to gh-main owns the tasks and nothing else.
const READER = 'reader-token-0123456789';
const GH_ONLY = 'gh-only-token-0123456789';
const METRICS = 'metrics-token-0123456789';
const ADMIN = 'admin-token-0123456789';
const GH_ADMIN = 'gh-admin-token-0123456789';

let h: Harness;
const logLines: string[] = [];
beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  h = await startHarness('api_tokens', {
    plane: { kinds: ['spec'] },
    github: { kinds: ['task'] },
    log: createLogger('debug', sink),
    config: {
      api: {
        tokens: [
          'test-token-0123456789',
          { token: READER, scopes: ['items:read', 'changes:read'] },
          { token: GH_ONLY, connections: ['gh-main'] },
          { token: METRICS, scopes: ['metrics'] },
          { token: ADMIN, scopes: ['admin'] },
          { token: GH_ADMIN, scopes: ['admin'], connections: ['gh-main'] },
        ],
      },
      metrics: { require_token: true },
    },
  });
});
afterAll(async () => h?.close());

const as = (token: string, method: string, path: string, body?: unknown) => h.api(method, path, body, { authorization: `Bearer ${token}` });
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
const count = async (table: string) => (await h.sql`select count(*)::int as n from ${h.sql(table)}`)[0].n as number;
const synced = (key: string) =>
  waitFor(
    () =>
      h.sql`select 1 from mappings m join items i on i.key = m.item_key where m.item_key = ${key} and m.status = 'synced' and m.synced_version >= i.version`.then(
        (r) => r.length > 0,
      ),
    20_000,
  );

describe('scoped api tokens', () => {
  it('a read-only token reads but cannot post events, retry deliveries, resolve or sync: 403 naming the scope, nothing written', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'spec/1', kind: 'spec', title: 'Spec one' } });
    await synced('spec/1');
    expect((await as(READER, 'GET', '/v1/items/spec%2F1')).status).toBe(200);
    expect((await as(READER, 'GET', '/v1/changes')).status).toBe(200);

    const before = { items: await count('items'), deliveries: await count('deliveries'), activity: await count('activity') };
    const post = await as(READER, 'POST', '/v1/events', { type: 'item.upserted', item: { key: 'spec/2', kind: 'spec' } });
    expect(post.status).toBe(403);
    expect(await errorOf(post)).toMatchObject({ code: 'forbidden', message: 'this token lacks the "events:write" scope' });
    const [delivery] = await h.sql`select id from deliveries where kind = 'reconcile' limit 1`;
    const retry = await as(READER, 'POST', `/v1/deliveries/${delivery.id}/retry`, {});
    expect(retry.status).toBe(403);
    expect((await errorOf(retry)).message).toContain('"deliveries:write"');
    const sync = await as(READER, 'POST', '/v1/connections/plane-main/sync', {});
    expect((await errorOf(sync)).message).toContain('"admin"');
    expect((await as(READER, 'POST', '/v1/conflicts/1/resolve', { use: 'local' })).status).toBe(403);
    expect({ items: await count('items'), deliveries: await count('deliveries'), activity: await count('activity') }).toEqual(before);

    // A token the config does not know is still a 401, and a metrics-only token reads no items.
    expect((await as('nope', 'GET', '/v1/changes')).status).toBe(401);
    expect((await errorOf(await as(METRICS, 'GET', '/v1/items/spec%2F1'))).message).toBe('this token lacks the "items:read" scope');
  }, 30_000);

  it("a connection-limited token sees and touches only its connection's items, deliveries, changes and conflicts", async () => {
    const ok = await as(GH_ONLY, 'POST', '/v1/events', { type: 'item.upserted', item: { key: 'task/1', kind: 'task', title: 'Task one' } });
    expect(ok.status).toBe(202);
    await synced('task/1');

    // Another connection's item: refused with both named, nothing written.
    const before = { items: await count('items'), deliveries: await count('deliveries') };
    const spec = await as(GH_ONLY, 'POST', '/v1/events', { type: 'item.upserted', item: { key: 'spec/1', title: 'Renamed' } });
    expect(spec.status).toBe(403);
    expect((await errorOf(spec)).message).toBe(
      'events[0]: item "spec/1" is carried by connection "plane-main", which this token may not touch (it is limited to gh-main)',
    );
    const link = await as(GH_ONLY, 'POST', '/v1/events', {
      events: [{ type: 'item.upserted', item: { key: 'task/2', kind: 'task', links: { 'plane-main': 'ET-1' } } }],
    });
    expect(link.status).toBe(403);
    expect({ items: await count('items'), deliveries: await count('deliveries') }).toEqual(before);
    expect((await h.sql`select 1 from items where key = 'task/2'`).length).toBe(0);

    // Reads: the other connection's item is not there; its own item lists only its connection.
    expect((await as(GH_ONLY, 'GET', '/v1/items/spec%2F1')).status).toBe(404);
    expect((await as(GH_ONLY, 'GET', '/v1/items/spec%2F1/activity')).status).toBe(404);
    const item = (await (await as(GH_ONLY, 'GET', '/v1/items/task%2F1')).json()) as { connections: { connection: string }[] };
    expect(item.connections.map((x) => x.connection)).toEqual(['gh-main']);
    const deliveries = (await (await as(GH_ONLY, 'GET', '/v1/deliveries?limit=500')).json()) as {
      deliveries: { connection: string | null }[];
    };
    expect(deliveries.deliveries.length).toBeGreaterThan(0);
    expect(new Set(deliveries.deliveries.map((d) => d.connection))).toEqual(new Set(['gh-main']));
    const [planeDelivery] = await h.sql`select id from deliveries where connection_id = 'plane-main' limit 1`;
    expect((await as(GH_ONLY, 'GET', `/v1/deliveries/${planeDelivery.id}`)).status).toBe(404);
    expect((await as(GH_ONLY, 'POST', `/v1/deliveries/${planeDelivery.id}/retry`, {})).status).toBe(404);
    const connections = (await (await as(GH_ONLY, 'GET', '/v1/connections')).json()) as { connections: { id: string }[] };
    expect(connections.connections.map((x) => x.id)).toEqual(['gh-main']);

    // Changes and conflicts of both connections; the limited token reads only its own.
    await h.sql`insert into changes (item_key, connection_id, fields) values ('spec/1', 'plane-main', '{}'), ('task/1', 'gh-main', '{}')`;
    const changes = (await (await as(GH_ONLY, 'GET', '/v1/changes')).json()) as { changes: { connection: string }[] };
    expect(changes.changes.map((x) => x.connection)).toEqual(['gh-main']);
    const [planeConflict] = await h.sql`insert into conflicts (item_key, connection_id, field, local_value, remote_value)
      values ('spec/1', 'plane-main', 'title', '"a"', '"b"') returning id`;
    await h.sql`insert into conflicts (item_key, connection_id, field, local_value, remote_value) values ('task/1', 'gh-main', 'title', '"a"', '"b"')`;
    const conflicts = (await (await as(GH_ONLY, 'GET', '/v1/conflicts?status=open')).json()) as { conflicts: { connection: string }[] };
    expect(conflicts.conflicts.map((x) => x.connection)).toEqual(['gh-main']);
    expect((await as(GH_ONLY, 'POST', `/v1/conflicts/${planeConflict.id}/resolve`, { use: 'local' })).status).toBe(404);
    expect((await h.sql`select status from conflicts where id = ${planeConflict.id}`)[0].status).toBe('open');

    // An admin limited to gh-main syncs its connection, not another.
    const otherSync = await as(GH_ADMIN, 'POST', '/v1/connections/plane-main/sync', {});
    expect(otherSync.status).toBe(403);
    expect((await errorOf(otherSync)).message).toBe('this token is limited to connection gh-main; "plane-main" is not one of them');
    expect((await as(GH_ADMIN, 'POST', '/v1/connections/gh-main/sync', { direction: 'push' })).status).toBe(202);
  }, 30_000);

  it('/metrics and Bull Board take a token with the metrics / admin scope', async () => {
    expect((await h.app.request('/metrics')).status).toBe(401);
    const metrics = await h.app.request('/metrics', { headers: { authorization: `Bearer ${METRICS}` } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('trackline_queue_jobs');
    const reader = await h.app.request('/metrics', { headers: { authorization: `Bearer ${READER}` } });
    expect(reader.status).toBe(403);
    expect((await errorOf(reader)).message).toBe('this token lacks the "metrics" scope');

    expect((await h.app.request('/admin/queues')).status).toBe(401);
    expect((await h.app.request('/admin/queues', { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    expect((await h.app.request('/admin/queues/api/queues', { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    expect((await h.app.request('/admin/queues', { headers: { authorization: `Bearer ${READER}` } })).status).toBe(403);
    // The board shows every connection's jobs: a connection-limited admin token is not enough.
    expect((await h.app.request('/admin/queues', { headers: { authorization: `Bearer ${GH_ADMIN}` } })).status).toBe(403);
  });

  it('never logs a token', async () => {
    await as('a-wrong-token-that-must-not-be-logged', 'GET', '/v1/changes');
    const all = logLines.join('');
    expect(all).toContain('"path":"/v1/changes"');
    for (const token of [READER, GH_ONLY, METRICS, ADMIN, GH_ADMIN, 'a-wrong-token-that-must-not-be-logged'])
      expect(all).not.toContain(token);
  });
});
