import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { parseMetrics } from '../support/prometheus.ts';
import { createApp } from '../../src/api/app.ts';
import { pythonJsonDumps } from '../../sandbox/plane/python-json.ts';

const SECRET = 'plane_wh_metrics_0123456789';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('metrics', { plane: { webhook_secret: SECRET } });
  // The sandbox sends X-RateLimit-Remaining only while its limiter is on; a wide budget never refuses.
  h.sandbox.rateLimit.configure({ requests: 10_000, perMs: 60_000 });
});
afterAll(async () => h?.close());

const upsert = (key: string) => h.postEvents({ type: 'item.upserted', item: { key, title: key, state: 'doing' } });
const mappingStatus = (key: string) =>
  h.sql`select status from mappings where item_key = ${key}`.then((r) => r[0]?.status as string | undefined);

function webhook(body: string, signature = createHmac('sha256', SECRET).update(body).digest('hex'), connection = 'plane-main') {
  return h.app.request(`/webhooks/${connection}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-plane-signature': signature },
  });
}

async function scrape() {
  const res = await h.app.request('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseMetrics(await res.text());
}

describe('GET /metrics', () => {
  it('after syncs, a failure, a retry, a 429 and webhooks, every named series is there with sane values', async () => {
    // Two clean syncs.
    await upsert('m/1');
    await upsert('m/2');
    await waitFor(async () => (await mappingStatus('m/1')) === 'synced' && (await mappingStatus('m/2')) === 'synced');
    // A 500 once: the job is retried and then completes.
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', status: 500, times: 1 });
    await upsert('m/retried');
    await waitFor(async () => (await mappingStatus('m/retried')) === 'synced');
    // A 422: failed for good at once.
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', status: 422, times: 1 });
    await upsert('m/failed');
    await waitFor(async () => (await mappingStatus('m/failed')) === 'error');
    // A 429 with Retry-After: 1 pauses the credential, then the job goes through.
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', status: 429, retryAfter: 1, times: 1 });
    await upsert('m/paced');
    await waitFor(async () => (await mappingStatus('m/paced')) === 'synced', 10_000);

    // Webhooks: accepted, the same again (duplicate), a bad signature and an unknown connection (rejected).
    const body = pythonJsonDumps({
      event: 'project',
      action: 'updated',
      webhook_id: 'w',
      workspace_id: 'ws',
      data: { id: 'p', name: 'metrics' },
      activity: {},
    });
    expect((await webhook(body)).status).toBe(202);
    expect((await webhook(body)).status).toBe(200);
    expect((await webhook(body, 'ab'.repeat(32))).status).toBe(401);
    expect((await webhook(body, undefined, 'no-such-connection')).status).toBe(404);
    // Its inbound job ran (the event is not one Trackline acts on, so it is recorded as skipped).
    await waitFor(() => h.sql`select 1 from deliveries where kind = 'webhook' and status = 'skipped'`.then((r) => r.length > 0));

    // An open conflict, as a manual strategy leaves it (its collector reads the table at scrape time).
    await h.sql`insert into conflicts (item_key, connection_id, field, status) values ('m/1', 'plane-main', 'state', 'open')`;

    const m = await scrape();
    expect(m.badLines).toEqual([]);

    // Types as Prometheus expects them.
    expect(m.families.get('trackline_jobs_total')?.type).toBe('COUNTER');
    expect(m.families.get('trackline_job_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(m.families.get('trackline_queue_jobs')?.type).toBe('GAUGE');
    expect(m.families.get('trackline_tracker_calls_total')?.type).toBe('COUNTER');

    // Queue depth and oldest-job age for every queue and state, read from Redis.
    for (const queue of h.runtime.queues.all().map((q) => q.name)) {
      for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed'])
        expect(m.value('trackline_queue_jobs', { queue, state })).toBeGreaterThanOrEqual(0);
      expect(m.value('trackline_queue_oldest_job_age_seconds', { queue, state: 'waiting' })).toBeGreaterThanOrEqual(0);
    }
    expect(m.value('trackline_queue_jobs', { queue: 'reconcile', state: 'failed' })).toBe(1);
    expect(m.value('trackline_queue_jobs', { queue: 'reconcile', state: 'completed' })).toBeGreaterThanOrEqual(4);
    const failedAge = m.value('trackline_queue_oldest_job_age_seconds', { queue: 'reconcile', state: 'failed' })!;
    expect(failedAge).toBeGreaterThan(0);
    expect(failedAge).toBeLessThan(60);

    // Job outcomes and durations, by queue and outcome.
    expect(m.value('trackline_jobs_total', { queue: 'reconcile', outcome: 'completed' })).toBeGreaterThanOrEqual(4);
    expect(m.value('trackline_jobs_total', { queue: 'reconcile', outcome: 'retried' })).toBeGreaterThanOrEqual(1);
    expect(m.value('trackline_jobs_total', { queue: 'reconcile', outcome: 'failed' })).toBe(1);
    expect(m.value('trackline_jobs_total', { queue: 'inbound', outcome: 'completed' })).toBeGreaterThanOrEqual(1);
    const completedCount = m.value('trackline_job_duration_seconds_count', { queue: 'reconcile', outcome: 'completed' })!;
    expect(completedCount).toBe(m.value('trackline_jobs_total', { queue: 'reconcile', outcome: 'completed' }));
    const completedSum = m.value('trackline_job_duration_seconds_sum', { queue: 'reconcile', outcome: 'completed' })!;
    expect(completedSum).toBeGreaterThan(0);
    expect(completedSum / completedCount).toBeLessThan(5);
    expect(m.value('trackline_job_duration_seconds_bucket', { queue: 'reconcile', outcome: 'completed', le: '+Inf' })).toBe(completedCount);

    // Tracker calls by connection and status, the budget left, and the pause.
    expect(m.value('trackline_tracker_calls_total', { connection: 'plane-main', status: '201' })).toBeGreaterThanOrEqual(4);
    expect(m.value('trackline_tracker_calls_total', { connection: 'plane-main', status: '500' })).toBe(1);
    expect(m.value('trackline_tracker_calls_total', { connection: 'plane-main', status: '422' })).toBe(1);
    expect(m.value('trackline_tracker_calls_total', { connection: 'plane-main', status: '429' })).toBe(1);
    const remaining = m.value('trackline_tracker_ratelimit_remaining', { connection: 'plane-main' })!;
    expect(remaining).toBeGreaterThan(9_000);
    expect(remaining).toBeLessThan(10_000);
    const pacer = m.samples('trackline_pacer_pauses_total');
    expect(pacer).toHaveLength(1);
    expect(pacer[0].labels.pacer).toMatch(/^[0-9a-f]{16}$/);
    expect(pacer[0].value).toBe(1);
    expect(m.value('trackline_pacer_paused_seconds_total')).toBeGreaterThanOrEqual(1);

    // Webhooks by outcome; the unknown connection is not a label of its own.
    expect(m.value('trackline_webhooks_total', { connection: 'plane-main', outcome: 'accepted' })).toBe(1);
    expect(m.value('trackline_webhooks_total', { connection: 'plane-main', outcome: 'duplicate' })).toBe(1);
    expect(m.value('trackline_webhooks_total', { connection: 'plane-main', outcome: 'rejected' })).toBe(1);
    expect(m.value('trackline_webhooks_total', { connection: 'unknown', outcome: 'rejected' })).toBe(1);
    expect(m.samples('trackline_webhooks_total').some((s) => s.labels.connection === 'no-such-connection')).toBe(false);

    // Conflicts open, from Postgres; and both sources answered.
    expect(m.value('trackline_conflicts_open', { connection: 'plane-main' })).toBe(1);
    expect(m.value('trackline_scrape_source_up', { source: h.queueBackend === 'redis' ? 'redis' : 'postgres-queues' })).toBe(1);
    expect(m.value('trackline_scrape_source_up', { source: 'postgres' })).toBe(1);

    // A resolved conflict drops back to 0 at the next scrape.
    await h.sql`update conflicts set status = 'resolved' where item_key = 'm/1'`;
    expect((await scrape()).value('trackline_conflicts_open', { connection: 'plane-main' })).toBe(0);
  });

  it('an api built without the runtime metrics (the `trackline api` case) still reports queues and conflicts', async () => {
    const apiOnly = createApp({
      sql: h.sql,
      config: h.runtime.config,
      connections: h.runtime.connections,
      queues: h.runtime.queues,
      log: h.runtime.log,
    });
    const m = parseMetrics(await (await apiOnly.request('/metrics')).text());
    expect(m.value('trackline_queue_jobs', { queue: 'reconcile', state: 'failed' })).toBe(1);
    expect(m.value('trackline_conflicts_open', { connection: 'plane-main' })).toBe(0);
    // Jobs ran in another process as far as this api knows: no job series of its own.
    expect(m.samples('trackline_jobs_total')).toEqual([]);
  });

  it('is open by default; with [metrics] token it takes that bearer token', async () => {
    const config = { ...h.runtime.config, metrics: { token: 'scrape-token-123' } };
    const app = createApp({
      sql: h.sql,
      config,
      connections: h.runtime.connections,
      queues: h.runtime.queues,
      log: h.runtime.log,
      metrics: h.runtime.metrics,
    });
    const refused = await app.request('/metrics');
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await app.request('/metrics', { headers: { authorization: 'Bearer scrape-token-123' } })).status).toBe(200);
    expect((await app.request('/metrics', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });
});
