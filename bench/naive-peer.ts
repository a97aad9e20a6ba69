import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Queue } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import postgres from 'postgres';

/**
 * The intake benchmark's durable reference: what a competent user writes by hand for the same job.
 * Hono on @hono/node-server; a webhook's HMAC-SHA256 over the raw body checked with
 * timingSafeEqual; one `INSERT … ON CONFLICT (id) DO NOTHING` of the delivery, body as jsonb; one
 * awaited `queue.add` (BullMQ, job id = delivery id); then 202. Events the same way behind a bearer
 * token. A 202 means committed and enqueued, as Trackline's does. Run as its own process by
 * bench/intake.ts, against the run's database and Redis prefix. Its queue is in Redis on either
 * queue backend Trackline is measured on: it is the one reference a user would write by hand.
 */
const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`naive peer: ${name} is not set`);
  return value;
};

const sql = postgres(env('DATABASE_URL'), { max: 10, onnotice: () => {} });
await sql`create table if not exists naive_deliveries (id text primary key, body jsonb not null, received_at timestamptz not null default now())`;
const queue = new Queue('naive-deliveries', {
  connection: new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null }),
  prefix: env('TRACKLINE_REDIS_PREFIX'),
});
const secret = env('NAIVE_WEBHOOK_SECRET');
const bearer = Buffer.from(`Bearer ${env('NAIVE_API_TOKEN')}`);

async function accept(id: string, body: unknown): Promise<void> {
  await sql`insert into naive_deliveries (id, body) values (${id}, ${sql.json(body as never)}) on conflict (id) do nothing`;
  await queue.add('delivery', { id }, { jobId: id, removeOnComplete: 1000 });
}

function parse(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

const app = new Hono();
app.post('/webhooks/:connection', async (c) => {
  const raw = Buffer.from(await c.req.arrayBuffer());
  const given = Buffer.from(c.req.header('x-plane-signature') ?? '', 'hex');
  const expected = createHmac('sha256', secret).update(raw).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return c.json({ error: 'bad signature' }, 401);
  const id = c.req.header('x-plane-delivery');
  const body = parse(raw);
  if (!id || body === undefined) return c.json({ error: 'bad delivery' }, 400);
  await accept(id, body);
  return c.json({ accepted: id }, 202);
});
app.post('/v1/events', async (c) => {
  const given = Buffer.from(c.req.header('authorization') ?? '');
  if (given.length !== bearer.length || !timingSafeEqual(given, bearer)) return c.json({ error: 'unauthorized' }, 401);
  const body = parse(Buffer.from(await c.req.arrayBuffer()));
  if (body === undefined || typeof body !== 'object') return c.json({ error: 'bad event' }, 400);
  const id = c.req.header('idempotency-key') ?? randomUUID();
  await accept(id, body);
  return c.json({ accepted: id }, 202);
});

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.error(`naive peer: listening on http://127.0.0.1:${info.port}`);
});
const stop = () =>
  server.close(() => {
    void Promise.all([queue.close(), sql.end({ timeout: 2 })]).finally(() => process.exit(0));
  });
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
