import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * The lookups a create needs are loaded when the worker starts, not on the first event's critical
 * path: the first create after a start sends the create and nothing else.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness('catalog_warming');
});
afterAll(async () => h?.close());

describe('catalog warming', () => {
  it('the worker loads states, labels, members and the project at start; the first create then makes only its own call', async () => {
    const reads = () => h.sandbox.log.entries({ tracker: 'plane' }).filter((e) => e.method === 'GET');
    await waitFor(() => ['/states/', '/labels/', '/members/'].every((p) => reads().some((e) => e.path.endsWith(p))), 10_000);
    await waitFor(() => reads().some((e) => /\/projects\/[^/]+\/$/.test(e.path)), 10_000);
    h.sandbox.log.clear();
    await h.postEvents({ type: 'item.upserted', item: { key: 'warm/1', title: 'first', state: 'doing', assignees: ['alice'] } });
    await waitFor(() =>
      h.sql`select count(*)::int as n from mappings where item_key = 'warm/1' and status = 'synced'`.then((r) => r[0].n === 1),
    );
    const calls = h.sandbox.log.entries({ tracker: 'plane' }).map((e) => `${e.method} ${e.path.replace(/.*\/projects\/[^/]+/, '')}`);
    expect(calls).toEqual(['POST /work-items/']);
  });

  it('a label Plane lacks is created at once, without reading the labels again first', async () => {
    h.sandbox.log.clear();
    await h.postEvents({ type: 'item.upserted', item: { key: 'warm/2', title: 'second', labels: ['brand-new'] } });
    await waitFor(() =>
      h.sql`select count(*)::int as n from mappings where item_key = 'warm/2' and status = 'synced'`.then((r) => r[0].n === 1),
    );
    const calls = h.sandbox.log.entries({ tracker: 'plane' }).map((e) => `${e.method} ${e.path.replace(/.*\/projects\/[^/]+/, '')}`);
    expect(calls).toEqual(['POST /labels/', 'POST /work-items/']);
  });
});
