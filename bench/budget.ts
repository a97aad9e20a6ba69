import type { QueueBackendKind } from '../src/queues/queue-backend.ts';
import { backendSection } from './backends.ts';
import { figure, type RunResult } from './figures.ts';
import { postBatches, upsert } from './orchestrator.ts';
import { progress, waitUntil } from './progress.ts';
import { Stack } from './stack.ts';
import { TrackerWatch } from './tracker-watch.ts';

/**
 * Figure 4, budget use: several `trackline worker` processes share one tracker credential whose
 * budget is `requestsPerSecond`, enforced by the sandbox exactly as Plane enforces its own (DRF's
 * sliding window, 429 with Retry-After beyond it). A backlog of changes is recorded first, then
 * the workers start together and work it off. Two things must hold at once (DESIGN §5.6): no 429
 * ever (Trackline's own pacing keeps it under the limit), and the budget is used, not wasted
 * (accepted requests per second over the steady part ÷ the budget). The budget is shared through
 * the pacing store that goes with the queue backend (Redis, or PostgreSQL tables), so both hold on
 * either backend.
 */

export interface BudgetOptions {
  run: number;
  changes: number;
  workers: number;
  requestsPerSecond: number;
  /** Where Trackline's queues and its pacing store live. */
  backend: QueueBackendKind;
}

const SECTION = 'budget';
// Few jobs per process are enough to keep a 10/s budget busy, and they keep each process's
// Postgres pool small on a server other people's test runs share.
const WORKER_CONCURRENCY = 8;

export async function runBudget(options: BudgetOptions): Promise<RunResult> {
  const rps = options.requestsPerSecond;
  const tag = backendSection(SECTION, options.backend);
  const stack = await Stack.open({
    label: `budget-${options.backend}`,
    queueBackend: options.backend,
    connection: { rate_limit: { requests: rps, per: '1s' } },
    sandbox: { rateLimit: { requests: rps, perMs: 1000 } },
  });
  const watch = new TrackerWatch(stack.sandbox.plane);
  try {
    // With its queues in PostgreSQL each worker process holds two pools there (Trackline's and the
    // queues'); a server other runs share can refuse them ("too many clients"), so say how full it was.
    const headroom = options.backend === 'postgres' ? await connectionHeadroom(stack) : null;
    if (headroom) progress(tag, `run ${options.run}: ${headroom}`);
    // The backlog is recorded before any worker runs, through the api like any orchestrator event.
    const api = await stack.spawn('api');
    const keys = Array.from({ length: options.changes }, (_, i) => `budget/${options.run}/${i}`);
    await postBatches(
      api.url!,
      keys.map((key) => upsert(key, { title: `Item ${key}`, state: 'planned' })),
    );
    await api.stop();
    progress(tag, `run ${options.run}: backlog of ${options.changes} changes recorded; starting ${options.workers} worker processes`);

    const workers = await Promise.all(
      Array.from({ length: options.workers }, () => stack.spawn('worker', { args: ['--concurrency', String(WORKER_CONCURRENCY)] })),
    );
    const started = Date.now();
    const expectedS = options.changes / rps;
    await waitUntil(tag, () => watch.created.size >= options.changes, {
      timeoutMs: (expectedS * 2 + 60) * 1000,
      everyMs: 10_000,
      what: `the backlog to reach the tracker`,
      describe: () => {
        const log = stack.planeRequests();
        return `${watch.created.size}/${options.changes} created after ${Math.round((Date.now() - started) / 1000)} s; ${log.length} requests, ${log.filter((e) => e.status === 429).length} answered 429`;
      },
    }).catch(async (error: Error) => {
      // A backlog that stops short is a finding, not noise: say where its jobs are and what the
      // workers last complained about, before the stack (and its queues) is gone.
      const jobs = await stack.queues.reconcile.getJobCounts().catch((e: Error) => `unreadable: ${e.message}`);
      const complaints = workers.flatMap((w) =>
        w
          .output()
          .split('\n')
          .filter((line) => /"level":(40|50|60)/.test(line))
          .slice(-3)
          .map((line) => `worker ${w.pid}: ${line.slice(0, 400)}`),
      );
      throw new Error(`${error.message}; reconcile jobs ${JSON.stringify(jobs)}${complaints.length ? `\n${complaints.join('\n')}` : ''}`);
    });
    await Promise.all(workers.map((w) => w.stop()));

    const log = stack.planeRequests();
    const times = log.map((e) => Date.parse(e.at)).sort((a, b) => a - b);
    const first = times[0];
    const last = times[times.length - 1];
    // The steady part leaves out start-up (processes joining, catalogs loading) and the tail
    // (the last few jobs cannot fill the budget): 10% of the span at each end, 5 s at most.
    const trim = Math.min(5000, (last - first) * 0.1);
    const from = first + trim;
    const to = last - trim;
    const accepted = log.filter((e) => e.status !== 429 && Date.parse(e.at) >= from && Date.parse(e.at) <= to).length;
    const perSecond = (accepted / (to - from)) * 1000;
    const refused = log.filter((e) => e.status === 429).length;
    // For each 429: the arrival gaps of the requests the sandbox had accepted within the window
    // before it, to tell a burst from our own pacing apart from arrival jitter.
    const notes = log.flatMap((e, i) => {
      if (e.status !== 429) return [];
      const at = Date.parse(e.at);
      const window = log
        .slice(0, i)
        .filter((p) => p.status !== 429 && Date.parse(p.at) > at - 1000)
        .map((p) => Date.parse(p.at));
      const gaps = [...window, at].map((t, j, all) => (j === 0 ? 0 : t - all[j - 1])).slice(1);
      return [
        `429 at +${((at - first) / 1000).toFixed(1)} s (${e.method} ${e.path}): the ${window.length} accepted requests before it in its 1 s window arrived with gaps of ${gaps.join(', ')} ms`,
      ];
    });
    progress(
      tag,
      `run ${options.run}: ${log.length} requests in ${((last - first) / 1000).toFixed(1)} s; steady part ${perSecond.toFixed(2)}/s of ${rps}/s; ${refused} answered 429`,
    );
    const budgetRef = { label: `the tracker's budget (${rps}/s)`, unit: 'req/s', value: rps };
    return {
      notes: headroom ? [headroom, ...notes] : notes,
      figures: [
        figure({
          id: 'budget.use',
          section: SECTION,
          label: `Requests accepted per second, ${options.workers} worker processes, backlog of ${options.changes} (steady part)`,
          unit: 'req/s',
          value: perSecond,
          reference: budgetRef,
          goal: {
            on: 'ratio',
            op: '>=',
            target: 0.95,
            source: 'benchmark brief: ≥ 95% of the budget used; DESIGN.md §2 (one limiter per credential shared by every worker process)',
            allBackends: true,
          },
        }),
        figure({
          id: 'budget.429',
          section: SECTION,
          label: `Requests answered 429 (${options.workers} worker processes)`,
          unit: 'requests',
          value: refused,
          reference: { label: 'sent in all', unit: 'requests', value: log.length },
          goal: {
            on: 'value',
            op: '<=',
            target: 0,
            source: 'DESIGN.md §5.6: no tracker budget is exceeded by Trackline’s own pacing',
            everyRun: true,
            allBackends: true,
          },
        }),
      ],
    };
  } finally {
    watch.close();
    await stack.close();
  }
}

async function connectionHeadroom(stack: Stack): Promise<string> {
  const [row] = await stack.sql<{ max: number; used: number }[]>`
    select current_setting('max_connections')::int as max, (select count(*)::int from pg_stat_activity) as used`;
  return `PostgreSQL max_connections ${row.max}, ${row.used} connections open as the section started`;
}
