import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startHarness, type Harness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('openapi', { workers: false });
});
afterAll(async () => h?.close());

describe('/openapi.json', () => {
  it('validates as OpenAPI 3.1 and covers every /v1 route the app serves', async () => {
    const res = await h.app.request('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    // swagger-parser validates against the OpenAPI 3.1 schema (and resolves every $ref).
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();

    const served = h.app.routes
      .filter((r) => r.path.startsWith('/v1/') && r.method !== 'ALL')
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z]+)(\{[^}]*\})?/g, '{$1}')}`);
    expect(served.length).toBeGreaterThan(8);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    for (const route of served) expect(documented, route).toContain(route);
  });

  it('documents requests from the validating schemas: the event body names its fields and limits', async () => {
    const doc = (await (await h.app.request('/openapi.json')).json()) as any;
    const body = JSON.stringify(doc.paths['/v1/events'].post.requestBody);
    for (const needle of ['item.upserted', 'item.comment', 'item.deleted', '"maxItems":500', 'links', 'assignees'])
      expect(body).toContain(needle);
    const limit = doc.paths['/v1/changes'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 500, default: 100 });
    // The sync body: the CLI's options by their API names, unknown keys refused, the scope and a 403.
    const sync = doc.paths['/v1/connections/{id}/sync'].post;
    const syncBody = sync.requestBody.content['application/json'].schema;
    expect(Object.keys(syncBody.properties).sort()).toEqual(['actor', 'direction', 'dryRun', 'force', 'items', 'labelsOnly']);
    expect(syncBody.additionalProperties).toBe(false);
    expect(sync.description).toContain('`admin` scope');
    expect(sync.responses['403']).toEqual({ $ref: '#/components/responses/E403' });
  });

  it('/docs renders Swagger UI from local files', async () => {
    const page = await h.app.request('/docs');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/openapi.json');
    const js = await h.app.request('/docs/assets/swagger-ui-bundle.js');
    expect(js.status).toBe(200);
    expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    expect((await h.app.request('/docs/assets/..%2Fpackage.json')).status).toBe(404);
  });
});
