// Test controls for the sandbox Jira, mounted at /_sandbox/jira: seeding, a person's edits in
// Jira's UI, and the webhook settings page. For tests that drive the sandbox over HTTP (a child
// process, the demo) rather than in-process through `sandbox.jira` / `sandbox.jiraWebhooks`.

import { Hono } from 'hono';
import { z } from 'zod';
import type { RateLimiter } from '../rate-limit.ts';
import type { JiraRoutesOptions } from './routes.ts';
import { createJiraMount } from './routes.ts';
import { JiraApiError, type JiraStoreOptions, type SeedJiraProjectInput } from './model.ts';
import { JiraStore } from './store.ts';
import { issueJson } from './serialize.ts';
import { JIRA_WEBHOOK_EVENTS, JiraWebhookSender, type JiraWebhookSenderOptions } from './webhooks.ts';
import type { TrackerMount } from '../mount.ts';

const webhookSchema = z
  .object({
    url: z.string().url(),
    secret: z.string(),
    events: z.array(z.enum(JIRA_WEBHOOK_EVENTS)).optional(),
    projectKey: z.string().min(1).nullable().optional(),
  })
  .strict();

export interface JiraSandboxOptions extends JiraStoreOptions {
  maxSearchResults?: JiraRoutesOptions['maxSearchResults'];
  faultResetMs?: JiraRoutesOptions['faultResetMs'];
  webhooks?: JiraWebhookSenderOptions;
}

export interface JiraSandbox {
  store: JiraStore;
  webhooks: JiraWebhookSender;
  mount: TrackerMount;
  dispose(): void;
}

export function createJiraSandbox(rateLimit: RateLimiter, options: JiraSandboxOptions = {}): JiraSandbox {
  const store = new JiraStore(options);
  const webhooks = new JiraWebhookSender(store, options.webhooks);
  const mount = createJiraMount({
    store,
    rateLimit,
    maxSearchResults: options.maxSearchResults,
    faultResetMs: options.faultResetMs,
    control: createJiraControl(store, webhooks),
  });
  return {
    store,
    webhooks,
    mount,
    dispose() {
      webhooks.dispose();
      store.dispose();
    },
  };
}

export function createJiraControl(store: JiraStore, webhooks: JiraWebhookSender): Hono {
  const readJson = async (text: string): Promise<Record<string, unknown>> => (text.trim() === '' ? {} : JSON.parse(text));
  const fail = (e: unknown) => {
    if (e instanceof JiraApiError) return { status: e.status as 400, body: typeof e.body === 'string' ? { error: e.body } : e.body };
    return { status: 400 as const, body: { error: e instanceof z.ZodError ? e.issues : String(e instanceof Error ? e.message : e) } };
  };
  const app = new Hono();
  app.post('/projects', async (c) => {
    try {
      return c.json(store.seedProject((await readJson(await c.req.text())) as unknown as SeedJiraProjectInput), 201);
    } catch (e) {
      const f = fail(e);
      return c.json(f.body, f.status);
    }
  });
  app.get('/issues', (c) => {
    const project = c.req.query('project');
    const list = project ? store.issuesOf(project) : [...store.issues.values()];
    return c.json(list.map((i) => issueJson(store, i, { properties: [...i.properties.keys()] })));
  });
  const personal = (run: (key: string, body: Record<string, unknown>, person?: string) => unknown) => async (c: import('hono').Context) => {
    try {
      const out = run(c.req.param('key')!, await readJson(await c.req.text()), c.req.query('person'));
      return c.json(out ?? {}, 200);
    } catch (e) {
      const f = fail(e);
      return c.json(f.body, f.status);
    }
  };
  app.post(
    '/issues/:key/edit',
    personal((key, body, person) => issueJson(store, store.editAsPerson(key, body, person))),
  );
  app.post(
    '/issues/:key/transition',
    personal((key, body, person) => issueJson(store, store.transitionAsPerson(key, String(body.to), person))),
  );
  app.post(
    '/issues/:key/comments',
    personal((key, body, person) => store.commentAsPerson(key, body.body as string, person)),
  );
  app.delete('/issues/:key', (c) => {
    try {
      store.deleteAsPerson(c.req.param('key'), (i) => issueJson(store, i), c.req.query('person'));
      return c.body(null, 204);
    } catch (e) {
      const f = fail(e);
      return c.json(f.body, f.status);
    }
  });

  app.get('/webhooks', (c) => c.json(webhooks.targets()));
  app.post('/webhooks', async (c) => {
    try {
      return c.json(webhooks.register(webhookSchema.parse(await readJson(await c.req.text()))), 201);
    } catch (e) {
      const f = fail(e);
      return c.json(f.body, f.status);
    }
  });
  app.delete('/webhooks/:id', (c) =>
    webhooks.unregister(Number(c.req.param('id'))) ? c.body(null, 204) : c.json({ error: 'no such webhook' }, 404),
  );
  app.get('/webhooks/deliveries', (c) => c.json(webhooks.deliveries({ event: c.req.query('event') })));
  app.post('/webhooks/drain', async (c) => {
    await webhooks.drain();
    return c.body(null, 204);
  });
  return app;
}
