import { Queues } from '../src/queues/queues.ts';
import { RedisQueueBackend } from '../src/queues/redis-queue-backend.ts';
import { figure, type RunResult } from './figures.ts';
import { progress, waitUntil } from './progress.ts';
import { CONNECTION_ID, PLANE_KEY, REDIS_URL, Stack } from './stack.ts';
import { median } from './stats.ts';

/**
 * Figure 5, backfill: a Plane project that already holds `issues` work items carrying an import
 * label is connected with `import_labels`, and one poll (the same poll job the scheduler runs)
 * imports every issue as an item and maps it. Pacing is off, so this measures Trackline, not the
 * tracker's budget. The reference is the floor set by the tracker: reading the same pages with a
 * bare fetch loop, in the same run.
 */

export interface BackfillOptions {
  run: number;
  issues: number;
}

const SECTION = 'backfill';
const LABEL = 'import';
const GOAL_SOURCE = 'benchmark brief: 10,000 existing remote issues imported and mapped in under 30 s';

export async function runBackfill(options: BackfillOptions): Promise<RunResult> {
  const n = options.issues;
  const stack = await Stack.open({
    label: 'backfill',
    labels: [LABEL, 'backend'],
    connection: { rate_limit: 'off', import_labels: [LABEL] },
  });
  const queues = new Queues(await RedisQueueBackend.connect(REDIS_URL, stack.redisPrefix, { workers: false }), {
    attempts: 1,
    backoffMs: 1000,
  });
  try {
    // Seeded straight into the store: the issues exist before Trackline is connected.
    const { projectId, labels, states } = stack.project;
    const stateIds = [states.Todo, states['In Progress'], states.Done];
    for (let i = 0; i < n; i++) {
      stack.sandbox.plane.createAsPerson(projectId, {
        name: `Existing issue ${i}`,
        description_html: `<p>Imported by the backfill benchmark, issue ${i}.</p>`,
        labels: i % 2 ? [labels[LABEL], labels.backend] : [labels[LABEL]],
        state: stateIds[i % stateIds.length],
        priority: 'medium',
      });
    }
    progress(SECTION, `run ${options.run}: ${n} issues in the sandbox; reading every page with a bare fetch loop (the reference)`);
    // A warm-up pass, then the median of three: one short pass is at the mercy of a busy moment.
    await readAllPages(stack);
    const fetchMs = median([await readAllPages(stack), await readAllPages(stack), await readAllPages(stack)]);

    const worker = await stack.spawn('worker');
    const mapped = async () => {
      const [row] = await stack.sql<
        { n: number }[]
      >`select count(*)::int as n from mappings where connection_id = ${CONNECTION_ID} and remote_id is not null`;
      return row.n;
    };
    const t0 = Date.now();
    await queues.pollNow(CONNECTION_ID);
    await waitUntil(SECTION, async () => (await mapped()) >= n, {
      timeoutMs: Math.max(120_000, n * 30),
      intervalMs: 200,
      everyMs: 2000,
      what: `${n} issues imported`,
      describe: async () => {
        const done = await mapped();
        return `run ${options.run}: ${done}/${n} imported and mapped after ${((Date.now() - t0) / 1000).toFixed(1)} s (${Math.round((done / (Date.now() - t0)) * 1000)}/s)`;
      },
    });
    const seconds = (Date.now() - t0) / 1000;
    const [{ items }] = await stack.sql<{ items: number }[]>`select count(*)::int as items from items`;
    if (items < n) throw new Error(`only ${items} items for ${n} mapped issues`);
    progress(
      SECTION,
      `run ${options.run}: ${n} issues imported and mapped in ${seconds.toFixed(1)} s (${Math.round(n / seconds)}/s); bare fetch of all pages took ${(fetchMs / 1000).toFixed(2)} s`,
    );
    await worker.stop();

    const reference = { label: 'bare fetch of every page', unit: 's', value: fetchMs / 1000 };
    return {
      notes: [],
      figures: [
        figure({
          id: 'backfill.seconds',
          section: SECTION,
          label: `Seconds to import and map ${n.toLocaleString('en-US')} existing issues`,
          unit: 's',
          value: seconds,
          reference,
          goal: n >= 10_000 ? { on: 'value', op: '<', target: 30, source: GOAL_SOURCE } : undefined,
        }),
        figure({
          id: 'backfill.rate',
          section: SECTION,
          label: 'Issues imported and mapped per second',
          unit: 'issues/s',
          value: n / seconds,
          reference: { label: 'bare fetch', unit: 'issues/s', value: n / (fetchMs / 1000) },
          goal: { on: 'value', op: '>=', target: 10_000 / 30, source: GOAL_SOURCE },
        }),
      ],
    };
  } finally {
    await queues.close();
    await queues.backend.close();
    await stack.close();
  }
}

/** Every page of the project's work items, newest first, as the poll reads them; the time taken. */
async function readAllPages(stack: Stack): Promise<number> {
  const base = `${stack.sandboxUrl}/api/v1/workspaces/acme/projects/${stack.project.projectId}/work-items/`;
  const t0 = performance.now();
  let cursor: string | undefined;
  let seen = 0;
  for (let page = 0; page < 100_000; page++) {
    const url = `${base}?order_by=-updated_at&per_page=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await fetch(url, { headers: { 'x-api-key': PLANE_KEY } });
    if (!res.ok) throw new Error(`sandbox answered ${res.status} for ${url}`);
    const body = (await res.json()) as { results: unknown[]; next_cursor: string; next_page_results: boolean };
    seen += body.results.length;
    if (!body.next_page_results) break;
    cursor = body.next_cursor;
  }
  if (seen === 0) throw new Error('the bare fetch read no issues');
  return performance.now() - t0;
}
