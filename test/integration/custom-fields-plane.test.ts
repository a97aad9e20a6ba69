import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { loadSpecValidator, specMissing } from '../support/openapi-validator.ts';

/**
 * Custom fields in Plane as prefixed labels (issue 15): field_map `risk = "label:risk-"` makes
 * risk "high" the label `risk-high`; a new value swaps it, keeping the other labels; null removes
 * it; a prefixed label a person sets comes back as the field, never as a label.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness('custom_fields_plane', {
    plane: { field_map: { risk: 'label:risk-', areas: 'label:area:' }, conflict_strategy: 'local-wins' },
  });
});
afterAll(async () => h?.close());

const pid = () => h.project.projectId;
const upsert = (key: string, item: Record<string, unknown>) => h.postEvents({ type: 'item.upserted', item: { key, ...item } });
const version = async (key: string) => Number((await h.sql`select version from items where key = ${key}`)[0].version);
const item = async (key: string) =>
  (await h.sql`select desired, custom from items where key = ${key}`)[0] as {
    desired: { labels?: string[] };
    custom: Record<string, unknown>;
  };
const settled = (key: string, minVersion = 1) =>
  waitFor(
    () =>
      h.sql`select remote_id, status, last_error from mappings where item_key = ${key} and connection_id = 'plane-main'
        and status in ('synced', 'conflict') and synced_version >= ${minVersion} and pending_push is null`.then((r) => r[0]),
    20_000,
  );
const labelsOf = (remoteId: string) => {
  const plane = h.sandbox.plane;
  const names = new Map(plane.labelsOf(pid()).map((l) => [l.id, l.name]));
  return plane
    .issue(pid(), remoteId)!
    .labels.map((id) => names.get(id)!)
    .sort();
};

describe('Plane: custom fields as prefixed labels', () => {
  it('a value is its prefixed label, created when missing, beside the item’s labels', async () => {
    await upsert('pl/1', { title: 'Risky', labels: ['backend'], fields: { risk: 'high', areas: ['api', 'db'] } });
    const m = await settled('pl/1');
    expect(labelsOf(m.remote_id)).toEqual(['area:api', 'area:db', 'backend', 'risk-high']);
    // The prefixed labels belong to the fields, not to the item's labels.
    expect((await item('pl/1')).desired.labels).toEqual(['backend']);
  });

  it('a new value swaps the prefixed label and keeps the others; null removes it', async () => {
    const m = await settled('pl/1');
    h.sandbox.log.clear();
    await upsert('pl/1', { fields: { risk: 'low' } });
    await settled('pl/1', await version('pl/1'));
    expect(labelsOf(m.remote_id)).toEqual(['area:api', 'area:db', 'backend', 'risk-low']);
    expect(h.sandbox.log.entries({ tracker: 'plane', method: 'PATCH' })).toHaveLength(1);
    await upsert('pl/1', { fields: { risk: null }, labels: ['backend', 'frontend'] });
    await settled('pl/1', await version('pl/1'));
    expect(labelsOf(m.remote_id)).toEqual(['area:api', 'area:db', 'backend', 'frontend']);
  });

  it('a prefixed label a person sets comes back as the field, never as a label', async () => {
    const m = await settled('pl/1', await version('pl/1'));
    const plane = h.sandbox.plane;
    const risk = plane.createLabel(pid(), { name: 'risk-medium' }, { kind: 'person' } as never);
    plane.editAsPerson(m.remote_id, { labels: [...plane.issue(pid(), m.remote_id)!.labels, risk.id] });
    await waitFor(async () => {
      await h.runtime.queues.pollNow('plane-main');
      return (await item('pl/1')).custom.risk === 'medium';
    }, 20_000);
    expect((await item('pl/1')).desired.labels).toEqual(['backend', 'frontend']);
    const [change] = await h.sql`select fields from changes where item_key = 'pl/1' and type = 'item.changed' order by id desc limit 1`;
    expect(change.fields['fields.risk']).toEqual({ from: null, to: 'medium' });
    expect(change.fields.labels).toBeUndefined();
  });

  it('a multi-select applies the orchestrator’s removals and keeps a value a person added before its webhook', async () => {
    const m = await settled('pl/1', await version('pl/1'));
    // The previous test's polls are over, so none reads the person's edit before the event lands.
    await waitFor(async () =>
      (await h.sql`select 1 from deliveries where status in ('processing', 'retrying')`).length === 0 &&
      (await h.sql`select 1 from mappings where item_key = 'pl/1' and remote_changed_at is not null`).length === 0
        ? true
        : undefined,
    );
    const plane = h.sandbox.plane;
    const ui = plane.createLabel(pid(), { name: 'area:ui' }, { kind: 'person' } as never);
    plane.editAsPerson(m.remote_id, { labels: [...plane.issue(pid(), m.remote_id)!.labels, ui.id] });
    // The orchestrator drops "db" before Trackline has heard of "ui".
    await upsert('pl/1', { fields: { areas: ['api'] } });
    await settled('pl/1', await version('pl/1'));
    expect(labelsOf(m.remote_id)).toEqual(['area:api', 'area:ui', 'backend', 'frontend', 'risk-medium']);
    // "ui" comes back to the item as the person's change.
    await waitFor(async () => {
      await h.runtime.queues.pollNow('plane-main');
      return JSON.stringify((await item('pl/1')).custom.areas) === JSON.stringify(['api', 'ui']);
    }, 20_000);
  });

  it('the dry run lists custom-field changes field by field, both ways, and writes nothing', async () => {
    await upsert('pl/2', { title: 'Dry', fields: { risk: 'low', areas: ['api'] } });
    const m = await settled('pl/2');
    await h.workers!.close();
    await upsert('pl/2', { fields: { risk: 'high' } });
    const plane = h.sandbox.plane;
    const db = plane.labelsOf(pid()).find((l) => l.name === 'area:db')!;
    plane.editAsPerson(m.remote_id, { labels: [...plane.issue(pid(), m.remote_id)!.labels, db.id] });
    await h.runtime.queues.reconcile.pause();
    await h.startWorkers();
    h.sandbox.log.clear();
    const res = await h.api('POST', '/v1/connections/plane-main/sync', { dryRun: true });
    expect(res.status).toBe(200);
    const plan = (await res.json()) as { items: { itemKey: string; push: Record<string, unknown>; pull: Record<string, unknown> }[] };
    const entry = plan.items.find((i) => i.itemKey === 'pl/2');
    expect(entry?.push).toEqual({ 'fields.risk': { from: 'low', to: 'high' } });
    expect(entry?.pull).toEqual({ 'fields.areas': { from: ['api'], to: ['api', 'db'] } });
    expect(h.sandbox.log.writes()).toEqual([]);
    await h.runtime.queues.reconcile.resume();
  });

  it('a forced event pushes its custom field where the tracker differs, though the base says nothing changed', async () => {
    await upsert('pl/3', { title: 'Forced', fields: { risk: 'low' } });
    const m = await settled('pl/3');
    const plane = h.sandbox.plane;
    const medium = plane.labelsOf(pid()).find((l) => l.name === 'risk-medium')!;
    const low = plane.labelsOf(pid()).find((l) => l.name === 'risk-low')!;
    // A person's change Trackline has not heard of (no webhook, no poll).
    plane.editAsPerson(m.remote_id, { labels: [...plane.issue(pid(), m.remote_id)!.labels.filter((id) => id !== low.id), medium.id] });
    await h.postEvents({ type: 'item.upserted', item: { key: 'pl/3', fields: { risk: 'low' } }, force: true, actor: 'agent:test' });
    await waitFor(() => labelsOf(m.remote_id).includes('risk-low') || undefined, 20_000);
    expect(labelsOf(m.remote_id)).not.toContain('risk-medium');
    const [trail] = await h.sql`select detail from activity where item_key = 'pl/3' and action = 'sync.forced'`;
    expect(trail.detail.fields).toEqual(['fields.risk']);
  });

  it('a forced null clears a value a person set that Trackline has not heard of', async () => {
    await upsert('pl/4', { title: 'Forced clear', fields: { risk: null } });
    const m = await settled('pl/4');
    const plane = h.sandbox.plane;
    // A person's change Trackline has not heard of (no webhook, no poll).
    const person = { id: plane.person(pid()).id, kind: 'person' as const };
    const high = plane.labelsOf(pid()).find((l) => l.name === 'risk-high') ?? plane.createLabel(pid(), { name: 'risk-high' }, person);
    plane.editAsPerson(m.remote_id, { labels: [...plane.issue(pid(), m.remote_id)!.labels, high.id] });
    expect(labelsOf(m.remote_id)).toContain('risk-high');
    // The item's side says null before and after: only the force makes it go out.
    await h.postEvents({ type: 'item.upserted', item: { key: 'pl/4', fields: { risk: null } }, force: true, actor: 'agent:test' });
    await waitFor(() => (!labelsOf(m.remote_id).includes('risk-high') ? true : undefined), 20_000);
    const [trail] = await h.sql`select detail from activity where item_key = 'pl/4' and action = 'sync.forced'`;
    expect(trail.detail.fields).toEqual(['fields.risk']);
  });

  it('check says label prefixes are always available', async () => {
    const lines = await h.runtime.connections.get('plane-main')!.adapter().check();
    expect(lines).toContainEqual({
      ok: true,
      message: 'Field "risk" maps to labels "risk-<value>" (label prefixes are always available; missing labels are created)',
    });
  });

  it.skipIf(specMissing('plane'))('every request validates against Plane’s OpenAPI description', async () => {
    const spec = await loadSpecValidator('plane');
    spec.assertAll(
      h.sandbox.log.entries({ tracker: 'plane' }).map((r) => {
        const query = new URLSearchParams(r.query).toString();
        return { method: r.method, url: `${r.path}${query ? `?${query}` : ''}`, body: r.body ?? undefined, headers: r.headers };
      }),
    );
  });
});
