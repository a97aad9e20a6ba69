// Test controls for the sandbox Plane's webhooks, mounted at /_sandbox/plane/webhooks. They stand
// in for Plane's "Workspace Settings → Webhooks" page, for tests that drive the sandbox over HTTP
// (a child process, the demo) rather than in-process through `sandbox.planeWebhooks`.

import { Hono } from 'hono';
import { z } from 'zod';
import type { PlaneWebhookSender } from './webhooks.ts';

const registerSchema = z
  .object({
    url: z.string().url(),
    secret: z.string(),
    version: z.enum(['v1', 'v2']).optional(),
    workspace: z.string().min(1).nullable().optional(),
    events: z.array(z.enum(['issue', 'issue_comment'])).optional(),
  })
  .strict();

const activeSchema = z.object({ active: z.boolean() }).strict();

export function createPlaneWebhookControl(sender: PlaneWebhookSender): Hono {
  const readJson = async (text: string): Promise<unknown> => (text.trim() === '' ? {} : JSON.parse(text));
  const invalid = (error: unknown) => ({ error: error instanceof z.ZodError ? error.issues : String(error) });

  return (
    new Hono()
      .get('/', (c) => c.json({ enabled: sender.enabled, webhooks: sender.targets() }))
      .post('/', async (c) => {
        try {
          return c.json(sender.register(registerSchema.parse(await readJson(await c.req.text()))), 201);
        } catch (e) {
          return c.json(invalid(e), 400);
        }
      })
      .delete('/', (c) => {
        sender.clearTargets();
        return c.body(null, 204);
      })
      // Webhooks off / on for every target: changes made while off are dropped, not queued.
      .post('/pause', (c) => {
        sender.pause();
        return c.body(null, 204);
      })
      .post('/resume', (c) => {
        sender.resume();
        return c.body(null, 204);
      })
      .get('/deliveries', (c) => c.json(sender.deliveries({ webhookId: c.req.query('webhook'), event: c.req.query('event') })))
      .delete('/deliveries', (c) => {
        sender.clearLog();
        return c.body(null, 204);
      })
      // Answers once every queued delivery is out, so an HTTP-driven test can wait for echoes.
      .post('/drain', async (c) => {
        await sender.drain();
        return c.body(null, 204);
      })
      .put('/:id/active', async (c) => {
        try {
          sender.setActive(c.req.param('id'), activeSchema.parse(await readJson(await c.req.text())).active);
          return c.body(null, 204);
        } catch (e) {
          return c.json(invalid(e), e instanceof z.ZodError || e instanceof SyntaxError ? 400 : 404);
        }
      })
      .delete('/:id', (c) => (sender.unregister(c.req.param('id')) ? c.body(null, 204) : c.json({ error: 'no such webhook' }, 404)))
  );
}
