import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { sweepOutbox } from '../../src/jobs/outbox-sweep.ts';
import { ORCHESTRATOR_SECRET, startOrchestrator } from '../support/orchestrator.ts';
import { pythonJsonDumps } from '../../sandbox/plane/python-json.ts';

const SECRET = 'plane_wh_0123456789abcdef';

let h: Harness;
let orchestrator: Awaited<ReturnType<typeof startOrchestrator>>;

beforeAll(async () => {
  orchestrator = await startOrchestrator();
  h = await startHarness('inbound_plane', {
    plane: { webhook_secret: SECRET, import_labels: ['plan'] },
    config: { orchestrator: { callback_url: orchestrator.url, secret: ORCHESTRATOR_SECRET } },
  });
  const api = await h.listenApi();
  h.sandbox.planeWebhooks.register({ url: `${api}/webhooks/plane-main`, secret: SECRET });
});
afterAll(async () => {
  await h?.close();
  await orchestrator?.close();
});

const plane = () => h.sandbox.plane;
const stateId = (name: string) =>
  plane()
    .statesOf(h.project.projectId)
    .find((s) => s.name === name)!.id;
const issueOf = (key: string) =>
  plane()
    .issuesOf(h.project.projectId)
    .find((i) => i.external_id === key)!;

async function changes(after = 0) {
  const res = await h.api('GET', `/v1/changes?after=${after}`);
  return (await res.json()) as {
    changes: {
      id: string;
      type: string;
      key: string;
      connection: string;
      fields: Record<string, { from: unknown; to: unknown }>;
      comment: string | null;
      actor: string | null;
    }[];
    next: string;
  };
}

async function createSynced(key: string, fields: Record<string, unknown>) {
  await h.postEvents({ type: 'item.upserted', item: { key, title: key, ...fields } });
  await waitFor(() => h.sql`select 1 from mappings where item_key = ${key} and status = 'synced'`.then((r) => r.length > 0));
  // Let the echo webhooks of our own create arrive and be processed.
  await h.sandbox.planeWebhooks.drain();
  await waitFor(() =>
    h.sql`select count(*)::int as n from deliveries where kind = 'webhook' and status in ('received', 'processing')`.then(
      (r) => r[0].n === 0,
    ),
  );
  return issueOf(key);
}

describe('webhook intake', () => {
  it('refuses a bad signature with 401, records it without the body, and changes nothing', async () => {
    const api = await h.listenApi();
    const body = pythonJsonDumps({ event: 'issue', action: 'updated', data: { id: 'x' } });
    const res = await fetch(`${api}/webhooks/plane-main`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-plane-signature': 'ab'.repeat(32) },
    });
    expect(res.status).toBe(401);
    const [row] =
      await h.sql`select status, last_error, request from deliveries where kind = 'webhook' and status = 'rejected' order by created_at desc limit 1`;
    expect(row.last_error).toMatch(/signature/i);
    expect(row.request.headers['x-plane-signature']).toBe('[redacted]');
    expect(JSON.stringify(row.request)).not.toContain('"data"');
    expect((await fetch(`${api}/webhooks/nope`, { method: 'POST', body })).status).toBe(404);
  });

  it('a signed body that is not JSON is a 400; over 1 MiB is a 413', async () => {
    const api = await h.listenApi();
    const bad = '{"event": ';
    const sig = createHmac('sha256', SECRET).update(bad).digest('hex');
    expect((await fetch(`${api}/webhooks/plane-main`, { method: 'POST', body: bad, headers: { 'x-plane-signature': sig } })).status).toBe(
      400,
    );
    const big = 'x'.repeat(1024 * 1024 + 1);
    expect((await fetch(`${api}/webhooks/plane-main`, { method: 'POST', body: big, headers: { 'x-plane-signature': sig } })).status).toBe(
      413,
    );
  });

  it('the same delivery posted twice: accepted once, the second answered as a duplicate', async () => {
    const api = await h.listenApi();
    const body = pythonJsonDumps({
      event: 'project',
      action: 'updated',
      webhook_id: 'w',
      workspace_id: 'ws',
      data: { id: 'p', name: 'Café' },
      activity: {},
    });
    const sig = createHmac('sha256', SECRET).update(body).digest('hex');
    const first = await fetch(`${api}/webhooks/plane-main`, {
      method: 'POST',
      body,
      headers: { 'x-plane-signature': sig, 'x-plane-delivery': 'a' },
    });
    const second = await fetch(`${api}/webhooks/plane-main`, {
      method: 'POST',
      body,
      headers: { 'x-plane-signature': sig, 'x-plane-delivery': 'b' },
    });
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ status: 'duplicate' });
    // An event Trackline does not act on is still recorded, with the reason: never a silent drop.
    const { delivery } = (await first
      .clone()
      .json()
      .catch(() => ({}))) as { delivery?: string };
    void delivery;
    const skipped = await waitFor(() =>
      h.sql`select status, last_error from deliveries where kind = 'webhook' and request->>'event' = 'project.updated' and status = 'skipped'`.then(
        (r) => r[0],
      ),
    );
    expect(skipped.last_error).toContain('ignored');
  });
});

describe('remote changes reach the orchestrator', () => {
  it('a state change made in Plane reaches GET /v1/changes and the signed callback within 2 s, exactly once; our own writes never come back', async () => {
    const issue = await createSynced('in/1', { state: 'planned', labels: ['a'] });
    const before = (await changes()).changes.filter((c) => c.key === 'in/1');
    expect(before).toEqual([]); // our own create came back as webhooks and changed nothing
    const started = Date.now();
    plane().editAsPerson(issue.id, { state: stateId('In Progress') });
    const change = await waitFor(async () => (await changes()).changes.find((c) => c.key === 'in/1'), 2000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(change).toMatchObject({ type: 'item.changed', connection: 'plane-main', fields: { state: { from: 'planned', to: 'doing' } } });
    const callback = await waitFor(() => orchestrator.received.find((r) => r.body.key === 'in/1'), 2000);
    expect(callback.verified).toBe(true);
    expect(callback.headers['webhook-id']).toBe(`chg_${change.id}`);
    // The item took the value; Trackline's own follow-up does not echo.
    const item = (await (await h.api('GET', '/v1/items/in%2F1')).json()) as { fields: { state: string } };
    expect(item.fields.state).toBe('doing');
    await h.postEvents({ type: 'item.upserted', item: { key: 'in/1', title: 'renamed by the orchestrator' } });
    await waitFor(() => issueOf('in/1').name === 'renamed by the orchestrator');
    await h.sandbox.planeWebhooks.drain();
    await new Promise((r) => setTimeout(r, 500));
    expect((await changes()).changes.filter((c) => c.key === 'in/1')).toHaveLength(1);
    expect(orchestrator.received.filter((r) => r.body.key === 'in/1')).toHaveLength(1);
  });

  it('a person’s comment in Plane goes to the feed; Trackline’s own comment does not', async () => {
    const issue = await createSynced('in/comments', {});
    await h.postEvents({ type: 'item.comment', key: 'in/comments', comment: 'from the orchestrator' });
    await waitFor(() => plane().commentsOf(issue.id).length === 1);
    plane().commentAsPerson(issue.id, '<p>Looks <strong>good</strong></p>');
    const change = await waitFor(async () => (await changes()).changes.find((c) => c.key === 'in/comments'));
    expect(change).toMatchObject({ type: 'item.commented', comment: 'Looks **good**' });
    await h.sandbox.planeWebhooks.drain();
    await new Promise((r) => setTimeout(r, 300));
    expect((await changes()).changes.filter((c) => c.key === 'in/comments')).toHaveLength(1);
  });

  it('a remote issue carrying an import label becomes a new item; one without is skipped with the reason', async () => {
    const labelId =
      plane()
        .labelsOf(h.project.projectId)
        .find((l) => l.name === 'plan')?.id ?? plane().createLabel(h.project.projectId, { name: 'plan' }, { kind: 'person' } as never).id;
    const wanted = plane().createAsPerson(h.project.projectId, { name: 'Plan this', labels: [labelId] });
    const key = `plane-main:ET-${wanted.sequence_id}`;
    const change = await waitFor(async () => (await changes()).changes.find((c) => c.key === key));
    expect(change.type).toBe('item.created');
    expect(change.fields.title).toEqual({ from: null, to: 'Plan this' });
    const item = (await (await h.api('GET', `/v1/items/${encodeURIComponent(key)}`)).json()) as {
      connections: { remoteKey: string; status: string }[];
    };
    expect(item.connections[0]).toMatchObject({ remoteKey: `ET-${wanted.sequence_id}`, status: 'synced' });

    const other = plane().createAsPerson(h.project.projectId, { name: 'Not for us' });
    const skipped = await waitFor(() =>
      h.sql`select last_error from deliveries where kind = 'webhook' and status = 'skipped' and last_error like ${`%ET-${other.sequence_id}%`}`.then(
        (r) => r[0],
      ),
    );
    expect(skipped.last_error).toContain('import_labels');
  });

  it('a callback answered 409 turns the change into an open manual conflict and puts the item back', async () => {
    const issue = await createSynced('in/refused', { state: 'planned' });
    orchestrator.answerWith(409);
    try {
      plane().editAsPerson(issue.id, { state: stateId('Done') });
      const conflict = await waitFor(async () => {
        const res = (await (await h.api('GET', '/v1/conflicts?status=open')).json()) as {
          conflicts: { id: number; key: string; field: string; local: unknown; remote: unknown; reason: string }[];
        };
        return res.conflicts.find((c) => c.key === 'in/refused');
      });
      expect(conflict).toMatchObject({ field: 'state', local: 'planned', remote: 'Done' });
      const item = (await (await h.api('GET', '/v1/items/in%2Frefused')).json()) as { fields: { state: string } };
      expect(item.fields.state).toBe('planned');
      // Resolving it for the orchestrator's side pushes "planned" back to Plane.
      orchestrator.answerWith(204);
      const res = await h.api('POST', `/v1/conflicts/${conflict.id}/resolve`, { use: 'local', actor: 'operator:ana' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'resolved', resolution: 'local', resolvedBy: 'operator:ana' });
      await waitFor(() => issueOf('in/refused').state === stateId('Todo'));
      const again = await h.api('POST', `/v1/conflicts/${conflict.id}/resolve`, { use: 'remote' });
      expect(again.status).toBe(409);
      const trail = (await (await h.api('GET', '/v1/items/in%2Frefused/activity')).json()) as {
        activity: { actor: string; action: string }[];
      };
      expect(trail.activity).toContainEqual(expect.objectContaining({ actor: 'orchestrator', action: 'change.refused' }));
      expect(trail.activity).toContainEqual(expect.objectContaining({ actor: 'operator:ana', action: 'conflict.resolved' }));
    } finally {
      orchestrator.answerWith(204);
    }
  });
});

describe('polling, with webhooks off', () => {
  let p: Harness;
  beforeAll(async () => {
    p = await startHarness('inbound_poll', { plane: { poll_interval: '1s' } });
  });
  afterAll(async () => p?.close());

  it('a state change made in Plane reaches the feed within one poll interval, exactly once; a deleted issue is noticed', async () => {
    await p.postEvents({ type: 'item.upserted', item: { key: 'poll/1', title: 'Polled', state: 'planned' } });
    await p.postEvents({ type: 'item.upserted', item: { key: 'poll/2', title: 'Deleted later' } });
    await waitFor(() => p.sql`select count(*)::int as n from mappings where status = 'synced'`.then((r) => r[0].n === 2));
    await new Promise((r) => setTimeout(r, 1500)); // a poll passes over our own writes: no change
    const feed = async () =>
      (await (await p.api('GET', '/v1/changes')).json()) as { changes: { key: string; type: string; fields: Record<string, unknown> }[] };
    expect((await feed()).changes).toEqual([]);
    const issues = p.sandbox.plane.issuesOf(p.project.projectId);
    const started = Date.now();
    p.sandbox.plane.editAsPerson(issues.find((i) => i.external_id === 'poll/1')!.id, {
      state: p.sandbox.plane.statesOf(p.project.projectId).find((s) => s.name === 'Done')!.id,
    });
    const change = await waitFor(async () => (await feed()).changes.find((c) => c.key === 'poll/1'), 5000);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(change.fields).toEqual({ state: { from: 'planned', to: 'done' } });
    p.sandbox.plane.deleteAsPerson(issues.find((i) => i.external_id === 'poll/2')!.id);
    const gone = await waitFor(async () => (await feed()).changes.find((c) => c.key === 'poll/2'), 5000);
    expect(gone.type).toBe('item.remote_deleted');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await feed()).changes).toHaveLength(2);
    // The orchestrator changes the item afterwards: the pair no longer syncs, and the outbox sweep
    // does not take it for lost work (it re-enqueued the pair on every sweep, forever).
    await p.postEvents({ type: 'item.upserted', item: { key: 'poll/2', title: 'Deleted later, renamed' } });
    await waitFor(() =>
      p.runtime.queues.reconcile
        .getJobCounts('active', 'waiting', 'delayed', 'prioritized')
        .then((c) => Object.values(c).every((n) => n === 0)),
    );
    expect(await sweepOutbox(p.sql, p.runtime.queues, { callbacks: false, graceSeconds: 0 })).toBe(0);
  });
});

describe('polling for deletes, while issues are being created', () => {
  let p: Harness;
  beforeAll(async () => {
    p = await startHarness('inbound_poll_race', { plane: { poll_interval: '1s' } });
  });
  afterAll(async () => p?.close());

  it('an issue created and mapped while the poll lists the live ids is not taken for deleted', async () => {
    const adapter = p.runtime.connections.get('plane-main')!.adapter();
    const listIds = adapter.listIds!.bind(adapter);
    let listed!: () => void;
    const listingDone = new Promise<void>((r) => (listed = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let held = false;
    // The first listing after this point is held, once it has been taken, until the new item is
    // created and mapped: the listing cannot contain it.
    adapter.listIds = async (ctx) => {
      const live = await listIds(ctx);
      if (!held) {
        held = true;
        listed();
        await released;
      }
      return live;
    };
    await listingDone;
    await p.postEvents({ type: 'item.upserted', item: { key: 'race/1', title: 'Created during a poll' } });
    await waitFor(() =>
      p.sql`select 1 from mappings where item_key = 'race/1' and status = 'synced' and remote_id is not null`.then((r) => r.length === 1),
    );
    release();
    // Two more polls pass (1 s apart): the item stays synced and nothing reaches the feed.
    await new Promise((r) => setTimeout(r, 2500));
    const [mapping] = await p.sql<{ status: string }[]>`select status from mappings where item_key = 'race/1'`;
    expect(mapping.status).toBe('synced');
    const feed = (await (await p.api('GET', '/v1/changes')).json()) as { changes: unknown[] };
    expect(feed.changes).toEqual([]);
  });
});
