import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('operator_api');
});
afterAll(async () => h?.close());

type Delivery = {
  id: string;
  direction: string;
  kind: string;
  connection: string | null;
  key: string | null;
  status: string;
  attempts: number;
  lastError: string | null;
};
const json = async <T>(res: Response | Promise<Response>) => (await (await res).json()) as T;

async function synced(key: string) {
  await waitFor(() =>
    h.sql`select 1 from mappings m join items i on i.key = m.item_key where m.item_key = ${key} and m.status = 'synced' and m.synced_version >= i.version`.then(
      (r) => r.length > 0,
    ),
  );
}

describe('GET /v1/deliveries', () => {
  it('lists with filters and a cursor; the detail shows each attempt with its tracker calls', async () => {
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', status: 500, times: 2 });
    await h.postEvents({ type: 'item.upserted', item: { key: 'ops/1', title: 'Ops', state: 'doing' } });
    await synced('ops/1');
    const list = await waitFor(async () => {
      const l = await json<{ deliveries: Delivery[]; next: string | null }>(h.api('GET', '/v1/deliveries?direction=out&key=ops%2F1'));
      return l.deliveries.some((d) => d.kind === 'reconcile' && d.status === 'succeeded') ? l : null;
    });
    const reconcile = list.deliveries.find((d) => d.kind === 'reconcile')!;
    expect(reconcile).toMatchObject({ direction: 'out', connection: 'plane-main', status: 'succeeded', attempts: 3 });
    type Detail = {
      attempts: { attempt: number; status: string; error?: string; calls: { method: string; status: number; durationMs: number }[] }[];
      request: unknown;
    };
    // Tracker calls are written in batches every quarter second: wait for the last one to land.
    const detail = await waitFor(async () => {
      const d = await json<Detail>(h.api('GET', `/v1/deliveries/${reconcile.id}`));
      return d.attempts?.[2]?.calls.some((c) => c.status === 201) ? d : null;
    });
    expect(detail.attempts.map((a) => a.status)).toEqual(['retrying', 'retrying', 'succeeded']);
    expect(detail.attempts[0].error).toMatch(/answered 500/);
    expect(detail.attempts[0].calls.some((c) => c.method === 'POST' && c.status === 500)).toBe(true);
    expect(detail.attempts[2].calls.some((c) => c.method === 'POST' && c.status === 201)).toBe(true);
    expect(JSON.stringify(detail)).not.toContain('plane_api_test_key');

    // Pagination: one at a time, newest first, no overlap.
    await h.postEvents({ type: 'item.comment', key: 'ops/1', comment: 'a second inbound request' });
    const inbound = await json<{ deliveries: Delivery[]; next: string }>(h.api('GET', '/v1/deliveries?direction=in&limit=1'));
    expect(inbound.deliveries).toHaveLength(1);
    expect(inbound.next).not.toBeNull();
    const page2 = await json<{ deliveries: Delivery[] }>(h.api('GET', `/v1/deliveries?direction=in&limit=1&after=${inbound.next}`));
    expect(page2.deliveries[0]?.id).not.toBe(inbound.deliveries[0].id);
    expect((await h.api('GET', '/v1/deliveries?after=garbage')).status).toBe(400);
    expect((await h.api('GET', '/v1/deliveries?direction=sideways')).status).toBe(400);
    expect((await h.api('GET', '/v1/deliveries/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('an operator retries a failed delivery: the job runs again, the delivery and the item follow, the trail names the operator', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'ops/2', title: 'Will fail' } });
    await synced('ops/2');
    h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', status: 422, times: 1 });
    await h.postEvents({ type: 'item.upserted', item: { key: 'ops/2', state: 'done' } });
    const failed = await waitFor(
      async () => (await json<{ deliveries: Delivery[] }>(h.api('GET', '/v1/deliveries?status=failed&key=ops%2F2'))).deliveries[0],
    );
    expect(failed.attempts).toBe(1);
    const res = await h.api('POST', `/v1/deliveries/${failed.id}/retry`, { actor: 'operator:ana' });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ how: 'job retried', by: 'operator:ana' });
    await synced('ops/2');
    await waitFor(async () => (await json<Delivery>(h.api('GET', `/v1/deliveries/${failed.id}`))).status === 'succeeded');
    const trail = await json<{ activity: { actor: string; action: string }[] }>(h.api('GET', '/v1/items/ops%2F2/activity'));
    expect(trail.activity).toContainEqual(expect.objectContaining({ actor: 'operator:ana', action: 'delivery.retried' }));
    expect((await h.api('POST', `/v1/deliveries/${failed.id}/retry`, { actor: 'ana' })).status).toBe(400);
  });
});

describe('GET /v1/connections', () => {
  it('says whether the tracker answers, when it last did, what is pending and failing', async () => {
    const { connections, next } = await json<{ connections: Record<string, any>[]; next: string | null }>(h.api('GET', '/v1/connections'));
    expect(next).toBeNull();
    expect(connections).toHaveLength(1);
    const c = connections[0];
    expect(c).toMatchObject({ id: 'plane-main', tracker: 'plane', direction: 'both', reachable: true });
    expect(Date.parse(c.lastSuccessAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(c.lastError.message).toMatch(/payload is not valid|500/);
    expect(c.queue).toMatchObject({ pending: 0, failed: 0 });
    expect(c.queue.mapped).toBeGreaterThanOrEqual(2);
    expect(c.polling.interval).toBe('off');
  });
});

describe('POST /v1/connections/{id}/sync', () => {
  it('a dry run lists what would change, field by field, and writes nothing', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'ops/3', title: 'Dry' } });
    await synced('ops/3');
    await h.workers!.close();
    // A pending local change and a remote edit the item has not seen.
    await h.postEvents({ type: 'item.upserted', item: { key: 'ops/3', state: 'for_review' } });
    const issue = h.sandbox.plane.issuesOf(h.project.projectId).find((i) => i.external_id === 'ops/3')!;
    h.sandbox.plane.editAsPerson(issue.id, { name: 'Renamed in Plane' });
    // The restarted workers would sync ops/3 at once (the plan job needs them running): the
    // reconcile queue stays paused until the plan is made, so the plan sees the pair pending.
    await h.runtime.queues.reconcile.pause();
    await h.startWorkers();
    h.sandbox.log.clear();
    const res = await h.api('POST', '/v1/connections/plane-main/sync', { dryRun: true });
    expect(res.status).toBe(200);
    const plan = (await res.json()) as {
      dryRun: boolean;
      items: { itemKey: string; action: string; push: Record<string, unknown>; pull: Record<string, unknown> }[];
    };
    expect(plan.dryRun).toBe(true);
    const entry = plan.items.find((i) => i.itemKey === 'ops/3');
    expect(entry?.push).toMatchObject({ state: { to: 'In Review' } });
    expect(entry?.pull).toMatchObject({ title: { from: 'Dry', to: 'Renamed in Plane' } });
    // The plan itself wrote nothing to the tracker.
    expect(h.sandbox.log.writes()).toEqual([]);
    await h.runtime.queues.reconcile.resume();
    expect((await h.api('POST', '/v1/connections/nope/sync', {})).status).toBe(404);
    expect((await h.api('POST', '/v1/connections/plane-main/sync', { direction: 'up' })).status).toBe(400);
  });
});
