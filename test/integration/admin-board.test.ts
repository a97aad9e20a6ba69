import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.ts';
import { createApp } from '../../src/api/app.ts';
import { QUEUE } from '../../src/queues/names.ts';

const ADMIN = { username: 'ops', password: 'pä55 wörd:with colon' };
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;

let h: Harness;
beforeAll(async () => {
  h = await startHarness('admin_board', { workers: false, config: { admin: ADMIN } });
});
afterAll(async () => h?.close());

const get = (path: string, authorization?: string) => h.app.request(path, { headers: authorization ? { authorization } : {} });

describe('Bull Board at /admin/queues', () => {
  it('asks for basic auth: no credentials, a wrong password or a wrong user are a 401 with a Basic challenge', async () => {
    for (const authorization of [
      undefined,
      basic('ops', 'nope'),
      basic('root', ADMIN.password),
      'Bearer test-token-0123456789',
      'Basic !!!',
    ]) {
      const res = await get('/admin/queues', authorization);
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="Trackline admin", charset="UTF-8"');
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('unauthorized');
    }
    // The board's own API is behind the same door.
    expect((await get('/admin/queues/api/queues')).status).toBe(401);
  });

  it('with the [admin] credentials serves the board, its assets and every queue', async () => {
    const auth = basic(ADMIN.username, ADMIN.password);
    const page = await get('/admin/queues', auth);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<title>Trackline</title>');
    expect(html).toContain('<base href="/admin/queues/"');
    const script = /src="(static\/[^"]+\.js)"/.exec(html)![1];
    const asset = await get(`/admin/queues/${script}`, auth);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toContain('javascript');

    const api = (await (await get('/admin/queues/api/queues', auth)).json()) as {
      queues: { name: string; description: string; readOnlyMode: boolean; allowRetries: boolean }[];
    };
    expect(api.queues.map((q) => q.name).sort()).toEqual(Object.values(QUEUE).sort());
    for (const q of api.queues) {
      expect(q.description, q.name).not.toBe('');
      expect(q.readOnlyMode).toBe(false);
      expect(q.allowRetries).toBe(true);
    }
    // A trailing slash, as people type it, leads to the board.
    const slash = await get('/admin/queues/', auth);
    expect(slash.status).toBe(301);
    expect(new URL(slash.headers.get('location')!).pathname).toBe('/admin/queues');
  });

  it('without [admin] in the config the board is off: a 404 that says how to turn it on, never an open board', async () => {
    const { admin: _, ...config } = h.runtime.config;
    const app = createApp({
      sql: h.sql,
      config,
      connections: h.runtime.connections,
      queues: h.runtime.queues,
      log: h.runtime.log,
    });
    for (const path of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/js/x.js']) {
      const res = await app.request(path, { headers: { authorization: basic(ADMIN.username, ADMIN.password) } });
      expect(res.status, path).toBe(404);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toBe(
        'Bull Board is off: set [admin] username and password, or an [api] token with the admin scope, in trackline.toml to turn it on',
      );
    }
  });
});
