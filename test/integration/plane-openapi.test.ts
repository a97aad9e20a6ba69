import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { loadSpecValidator, specMissing } from '../support/openapi-validator.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('plane_openapi', { plane: { conflict_strategy: 'remote-wins' } });
});
afterAll(async () => h?.close());

const synced = async (key: string, minVersion = 1) => {
  try {
    await waitFor(
      () =>
        h.sql`select 1 from mappings m join items i on i.key = m.item_key where m.item_key = ${key} and m.status = 'synced' and m.synced_version >= ${minVersion}`.then(
          (r) => r.length > 0,
        ),
      15_000,
    );
  } catch {
    const rows = await h.sql`select m.*, i.version from mappings m join items i on i.key = m.item_key where m.item_key = ${key}`;
    const ds = await h.sql`select status, last_error, attempts from deliveries where item_key = ${key}`;
    throw new Error(`${key} not synced: ${JSON.stringify(rows)} ${JSON.stringify(ds)}`);
  }
};

describe('the Plane adapter speaks Plane’s published API', () => {
  it.skipIf(specMissing('plane'))('every request it makes validates against plane-v1-2025-05.openapi.yaml', async () => {
    // A scenario that exercises every call the adapter makes: catalog loads, create with labels
    // (one missing, so it is created), lookups by external id, updates, links, comments, reads.
    const existing = h.sandbox.plane.createAsPerson(h.project.projectId, { name: 'Existing' });
    const another = h.sandbox.plane.createAsPerson(h.project.projectId, { name: 'Another' });
    await h.postEvents({
      events: [
        {
          type: 'item.upserted',
          item: {
            key: 'spec/1',
            title: 'Spec one',
            body: '# Title\n\n- a\n- b\n\n`code`',
            state: 'doing',
            labels: ['brand-new-label'],
            priority: 'high',
            assignees: ['alice', 'nobody-here'],
          },
          comment: 'first comment',
        },
        {
          type: 'item.upserted',
          item: { key: 'spec/2', title: 'Linked', state: 'planned', links: { 'plane-main': `ET-${existing.sequence_id}` } },
        },
        { type: 'item.upserted', item: { key: 'spec/3', title: 'Linked by number', links: { 'plane-main': another.sequence_id } } },
      ],
    });
    await synced('spec/1');
    await synced('spec/2');
    await synced('spec/3');
    await h.postEvents({ type: 'item.upserted', item: { key: 'spec/1', state: 'done', labels: [], priority: null, assignees: [] } });
    await synced('spec/1', 2);
    // A retry after a lost create answer goes through the external-id lookup.
    await h.sql`update mappings set remote_id = null, create_intent_at = now(), status = 'creating' where item_key = 'spec/1'`;
    await h.postEvents({ type: 'item.upserted', item: { key: 'spec/1', title: 'Spec one, again' } });
    await synced('spec/1', 3);

    const requests = h.sandbox.log.entries({ tracker: 'plane' });
    const kinds = new Set(requests.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/g, '{id}').replace(/ET-\d+/, '{ident}')}`));
    // The scenario really covered the adapter's calls.
    for (const expected of [
      'GET /api/v1/workspaces/acme/projects/{id}/',
      'GET /api/v1/workspaces/acme/projects/{id}/states/',
      'GET /api/v1/workspaces/acme/projects/{id}/labels/',
      'POST /api/v1/workspaces/acme/projects/{id}/labels/',
      'GET /api/v1/workspaces/acme/projects/{id}/members/',
      'POST /api/v1/workspaces/acme/projects/{id}/work-items/',
      'GET /api/v1/workspaces/acme/projects/{id}/work-items/',
      'PATCH /api/v1/workspaces/acme/projects/{id}/work-items/{id}/',
      'GET /api/v1/workspaces/acme/work-items/{ident}/',
      'POST /api/v1/workspaces/acme/projects/{id}/work-items/{id}/comments/',
    ]) {
      expect(kinds, expected).toContain(expected);
    }
    const validator = await loadSpecValidator('plane');
    const results = requests.map((r) => {
      const query = new URLSearchParams(r.query).toString();
      return {
        req: `${r.method} ${r.path}${query ? `?${query}` : ''}`,
        result: validator.validate({ method: r.method, url: `${r.path}${query ? `?${query}` : ''}`, body: r.body ?? undefined }),
      };
    });
    const invalid = results.filter((r) => !r.result.ok).map((r) => `${r.req}: ${r.result.errors.join('; ')}`);
    expect(invalid).toEqual([]);
    // And the validator is not a rubber stamp: a body Plane would refuse fails it.
    expect(validator.validate({ method: 'PATCH', url: requests.find((r) => r.method === 'PATCH')!.path, body: { priority: 5 } }).ok).toBe(
      false,
    );
  });
});
