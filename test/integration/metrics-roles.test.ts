import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { spawnTrackline, type Child } from '../support/child-process.ts';
import { parseMetrics } from '../support/prometheus.ts';

/**
 * /metrics with api and workers in separate processes, as `trackline api` and `trackline worker`
 * run in a scaled-out install: each process answers for what it holds.
 */
let h: Harness;
const children: Child[] = [];
beforeAll(async () => {
  h = await startHarness('metrics_roles', { workers: false });
});
afterAll(async () => {
  for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await h?.close();
});

/** Starts `trackline <role>` and waits for the line that names its URL. */
async function start(role: 'api' | 'worker', env: Record<string, string>, pattern: RegExp): Promise<string> {
  const child = spawnTrackline(h, [role], { HOST: '127.0.0.1', ...env });
  children.push(child);
  const match = await waitFor(() => {
    if (child.process.exitCode !== null) throw new Error(`trackline ${role} exited: ${child.output()}`);
    return pattern.exec(child.output());
  }, 20_000);
  return match[1];
}

describe('/metrics per role', () => {
  it('`trackline worker` with METRICS_PORT serves its job and tracker-call counters; `trackline api` serves queue depths and conflicts', async () => {
    const [workerMetrics, apiUrl] = await Promise.all([
      start('worker', { METRICS_PORT: '0' }, /metrics on (http:\/\/\S+\/metrics)/),
      start('api', { PORT: '0' }, /listening on (http:\/\/\S+)/),
    ]);
    expect((await h.postEvents({ type: 'item.upserted', item: { key: 'roles/1', title: 'Roles' } })).status).toBe(202);
    await waitFor(() => h.sql`select 1 from mappings where item_key = 'roles/1' and status = 'synced'`.then((r) => r.length > 0), 15_000);

    const fromWorker = await waitFor(async () => {
      const m = parseMetrics(await (await fetch(workerMetrics)).text());
      return (m.value('trackline_jobs_total', { queue: 'reconcile', outcome: 'completed' }) ?? 0) >= 1 ? m : null;
    });
    expect(fromWorker.badLines).toEqual([]);
    expect(fromWorker.value('trackline_tracker_calls_total', { connection: 'plane-main', status: '201' })).toBe(1);
    expect(fromWorker.value('trackline_queue_jobs', { queue: 'reconcile', state: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(fromWorker.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    // A worker serves nothing else.
    expect((await fetch(workerMetrics.replace('/metrics', '/v1/items/roles%2F1'))).status).toBe(404);

    const fromApi = parseMetrics(await (await fetch(`${apiUrl}/metrics`)).text());
    expect(fromApi.badLines).toEqual([]);
    expect(fromApi.value('trackline_queue_jobs', { queue: 'reconcile', state: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(fromApi.value('trackline_conflicts_open', { connection: 'plane-main' })).toBe(0);
    // The api ran no job and called no tracker: those series live in the worker's /metrics.
    expect(fromApi.samples('trackline_jobs_total')).toEqual([]);
    expect(fromApi.samples('trackline_tracker_calls_total')).toEqual([]);

    // Both stop cleanly on SIGTERM (the worker closes its metrics server with the workers).
    for (const child of children) child.process.kill('SIGTERM');
    expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0]);
  }, 45_000);
});
