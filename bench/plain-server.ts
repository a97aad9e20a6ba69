import { Hono } from 'hono';
import { serve } from '@hono/node-server';

/**
 * The intake benchmark's reference: the same HTTP stack Trackline's api uses (Hono on
 * @hono/node-server, one Node process) with an endpoint that only parses the JSON body and
 * answers 202. Whatever Trackline's intake does beyond that (signature check, Postgres commit,
 * enqueue) is what the ratio to this endpoint measures. Run as its own process by bench/intake.ts.
 */
const app = new Hono();
app.post('*', async (c) => {
  await c.req.json();
  return c.json({ status: 'accepted' }, 202);
});

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.error(`plain reference: listening on http://127.0.0.1:${info.port}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
