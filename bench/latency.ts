import { figure, type Figure, type RunResult } from './figures.ts';
import { postEvents, upsert } from './orchestrator.ts';
import { trackerRoundTripMs } from './tracker-round-trip.ts';
import { progress, sleep, waitUntil } from './progress.ts';
import { API_TOKEN, CONNECTION_ID, Stack } from './stack.ts';
import { percentile } from './stats.ts';
import { TrackerWatch } from './tracker-watch.ts';

/**
 * What a user sees on an idle system, with the trackers' default budgets (no `rate_limit` in the
 * config; the sandbox Plane enforces Plane's 60 requests per minute as a sliding window, the
 * sandbox GitHub its 5,000 per hour and its secondary limits): `trackline start` with a Plane and a
 * GitHub connection, each event carried by both.
 *
 * - event → issue created: one event per new item, each with a label Plane lacks (a label create,
 *   then the issue create) and a new milestone (GitHub: a milestone create, then the issue create,
 *   two mutations a second apart), timed from the POST to the tracker applying the create;
 * - event → update written: the title of each of those items changed, timed to the write;
 * - the budget used up: a burst of creates more than Plane's window holds; each create that had to
 *   wait is timed against the moment the window let it (the call a budget earlier + the window),
 *   and the item view of a waiting item is read for "waiting for the tracker's budget until …".
 *
 * Reference: a bare GET of the project's states from the sandbox (the tracker's own answer time).
 */
export interface LatencyOptions {
  run: number;
  samples: number;
  /** Creates sent at once to use up Plane's budget (more than its 60 a minute). */
  burst: number;
}

const SECTION = 'latency';
const PLANE_WINDOW_MS = 60_000;
const PLANE_BUDGET = 60;

export async function runLatency(options: LatencyOptions): Promise<RunResult> {
  const stack = await Stack.open({
    label: 'latency',
    github: true,
    labels: ['backend'],
    sandbox: { rateLimit: { requests: PLANE_BUDGET, perMs: PLANE_WINDOW_MS } },
  });
  const plane = new TrackerWatch(stack.sandbox.plane);
  const githubCreated = new Map<string, number>();
  const unwatch = stack.sandbox.github.store.onChange((event) => {
    if (event.event === 'issues' && event.action === 'opened' && !githubCreated.has(event.issue.title))
      githubCreated.set(event.issue.title, Date.now());
  });
  const notes: string[] = [];
  try {
    const app = await stack.spawn('start');
    const api = app.url!;
    // The worker warms its catalogs at start; an idle system is one that has done so.
    await waitUntil(SECTION, () => stack.planeRequests().filter((e) => e.method === 'GET').length >= 4, {
      timeoutMs: 30_000,
      what: 'catalog warming',
    });
    await sleep(1000);
    const reference = await trackerRoundTripMs(stack);

    // event → issue created, and event → update written.
    const keys = Array.from({ length: options.samples }, (_, i) => `lat/${options.run}/${i}`);
    const createMs: number[] = [];
    const githubMs: number[] = [];
    for (const [i, key] of keys.entries()) {
      const sent = Date.now();
      await postEvents(api, [
        upsert(key, {
          title: key,
          state: 'doing',
          labels: ['backend', `new-${options.run}-${i}`],
          milestone: `Sprint ${options.run}.${i}`,
        }),
      ]);
      await waitUntil(SECTION, () => plane.created.has(key) && githubCreated.has(key), {
        timeoutMs: 30_000,
        what: `${key} created in Plane and GitHub`,
      });
      createMs.push(plane.created.get(key)! - sent);
      githubMs.push(githubCreated.get(key)! - sent);
      // The goal is for an idle system: the next sample's first GitHub write must not wait out
      // the second that GitHub asks between this sample's last write and it (300 ms here made
      // each sample wait ~0.7 s for its predecessor, and measured the spacing, not the create).
      await sleep(1_200);
    }
    const mutationGaps = githubMutationGaps(stack);
    await sleep(700);
    plane.mark();
    const updateMs: number[] = [];
    for (const key of keys) {
      const sent = Date.now();
      await postEvents(api, [upsert(key, { title: `${key} renamed` })]);
      await waitUntil(SECTION, () => plane.firstUpdate(key), { timeoutMs: 30_000, what: `${key} updated in Plane` });
      updateMs.push(plane.firstUpdate(key)! - sent);
      await sleep(300);
    }
    progress(
      SECTION,
      `run ${options.run}: Plane create p50 ${percentile(createMs, 50)} ms (${createMs.join(', ')}); GitHub create with a new milestone p50 ${percentile(githubMs, 50)} ms (${githubMs.join(', ')}); Plane update p50 ${percentile(updateMs, 50)} ms`,
    );

    // The budget used up: more creates than the window holds, sent at once.
    const burstKeys = Array.from({ length: options.burst }, (_, i) => `lat/${options.run}/burst/${i}`);
    const burstSent = Date.now();
    await postEvents(
      api,
      burstKeys.map((key) => upsert(key, { title: key })),
    );
    let viewSaid: string | null = null;
    await waitUntil(
      SECTION,
      async () => {
        if (!viewSaid)
          viewSaid = await waitingMessage(
            api,
            burstKeys.filter((k) => !plane.created.has(k)),
          );
        return burstKeys.every((k) => plane.created.has(k));
      },
      {
        timeoutMs: PLANE_WINDOW_MS * 3,
        intervalMs: 250,
        everyMs: 15_000,
        what: 'the burst to reach Plane',
        describe: () =>
          `${burstKeys.filter((k) => plane.created.has(k)).length}/${burstKeys.length} of the burst created; Plane requests since it was sent: ${planeRequestKinds(stack, burstSent)}`,
      },
    );
    const excess = windowExcess(stack, burstSent);
    const rss = app.peakRssMb();
    progress(
      SECTION,
      `run ${options.run}: burst of ${options.burst} done in ${((Date.now() - burstSent) / 1000).toFixed(1)} s; ${excess.waited} creates waited for the window, at most ${excess.maxMs} ms longer than it; item view: ${viewSaid ?? 'never said it waits'}`,
    );
    if (viewSaid) notes.push(`item view of a waiting item: "${viewSaid}"`);
    notes.push(`GitHub gaps between the two mutations of each create: ${mutationGaps.join(', ')} ms`);
    await app.stop();

    const ref = { label: 'a bare round trip to the sandbox Plane', unit: 'ms', value: reference };
    const figures: Figure[] = [
      figure({
        id: 'latency.plane.create',
        section: SECTION,
        label: 'Event to issue created in Plane (default budget 60/min, a new label), p50',
        unit: 'ms',
        value: percentile(createMs, 50),
        reference: ref,
        goal: { on: 'value', op: '<=', target: 1000, source: 'issue 17: event → issue created ≤ 1 s on an idle system' },
      }),
      figure({
        id: 'latency.plane.create.max',
        section: SECTION,
        label: 'Event to issue created in Plane, slowest sample',
        unit: 'ms',
        value: Math.max(...createMs),
        reference: ref,
      }),
      figure({
        id: 'latency.github.create',
        section: SECTION,
        label: 'Event to issue created in GitHub with a new milestone (two mutations), p50',
        unit: 'ms',
        value: percentile(githubMs, 50),
        reference: ref,
        goal: { on: 'value', op: '<=', target: 1500, source: 'issue 17: GitHub ≤ 1.5 s when the create needs a second mutation' },
      }),
      figure({
        id: 'latency.github.mutation-gap',
        section: SECTION,
        label: 'GitHub: least time between two mutations of one token (arrivals)',
        unit: 'ms',
        value: mutationGaps.length ? Math.min(...mutationGaps) : Number.NaN,
        reference: { label: "GitHub's one second between mutations", unit: 'ms', value: 1000 },
        goal: {
          on: 'ratio',
          op: '>=',
          target: 1,
          source: 'docs/trackers.md 3.5: wait at least one second between mutative requests',
          everyRun: true,
        },
      }),
      figure({
        id: 'latency.plane.update',
        section: SECTION,
        label: 'Event to update written in Plane, p50',
        unit: 'ms',
        value: percentile(updateMs, 50),
        reference: ref,
        goal: { on: 'value', op: '<=', target: 300, source: 'issue 17: event → update written ≤ 300 ms' },
      }),
      figure({
        id: 'latency.budget.excess',
        section: SECTION,
        label: `Budget used up (${options.burst} creates at once): longest wait beyond the window's`,
        unit: 'ms',
        value: excess.maxMs,
        reference: { label: `creates that waited for the window (of ${options.burst})`, unit: 'creates', value: excess.waited },
        goal: { on: 'value', op: '<=', target: 1000, source: "issue 17: with the budget exhausted, the wait is the window's, not longer" },
      }),
      figure({
        id: 'latency.budget.view',
        section: SECTION,
        label: 'Item view says "waiting for the tracker\'s budget until …" while a pair waits',
        unit: 'yes',
        value: viewSaid ? 1 : 0,
        reference: { label: 'yes', unit: 'yes', value: 1 },
        goal: { on: 'ratio', op: '>=', target: 1, source: 'issue 17: the item view says so', everyRun: true },
      }),
      figure({
        id: 'latency.plane.429',
        section: SECTION,
        label: 'Plane requests answered 429 in the section',
        unit: 'requests',
        value: stack.planeRequests().filter((e) => e.status === 429).length,
        reference: { label: 'sent in all', unit: 'requests', value: stack.planeRequests().length },
        goal: { on: 'value', op: '<=', target: 0, source: 'DESIGN.md §5.6', everyRun: true },
      }),
    ];
    if (rss !== null) {
      figures.push(
        figure({
          id: 'latency.rss.start',
          section: SECTION,
          label: 'Peak RSS of `trackline start` (api + worker)',
          unit: 'MB',
          value: rss,
          reference: { label: 'worker goal', unit: 'MB', value: 250 },
          goal: { on: 'value', op: '<', target: 250, source: 'issue 17: a worker under 250 MB' },
        }),
      );
    }
    return { figures, notes };
  } finally {
    unwatch();
    plane.close();
    await stack.close();
  }
}

/** The item view's message for the first of `keys` whose Plane pair waits on the budget. */
async function waitingMessage(api: string, keys: string[]): Promise<string | null> {
  for (const key of keys.slice(-5)) {
    const res = await fetch(`${api}/v1/items/${encodeURIComponent(key)}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    if (res.status !== 200) continue;
    const view = (await res.json()) as { connections: Array<{ connection: string; status: string; lastError: string | null }> };
    const pair = view.connections.find((c) => c.connection === CONNECTION_ID);
    if (pair?.status === 'waiting' && pair.lastError?.includes("waiting for the tracker's budget until"))
      return pair.lastError.slice(0, 120);
  }
  return null;
}

/**
 * For each Plane request after `from` that could not have gone out earlier, how long after the
 * window let it (the accepted request a budget before it, plus the window) it arrived.
 */
function windowExcess(stack: Stack, from: number): { waited: number; maxMs: number } {
  const accepted = stack
    .planeRequests()
    .filter((e) => e.status !== 429)
    .map((e) => Date.parse(e.at))
    .sort((a, b) => a - b);
  let waited = 0;
  let maxMs = 0;
  for (let i = PLANE_BUDGET; i < accepted.length; i++) {
    const allowedAt = accepted[i - PLANE_BUDGET] + PLANE_WINDOW_MS;
    // Ready since the burst was sent, held only by the window: it waited for the budget. (An
    // upper bound: a create that was not ready yet when the window had room counts as late too.)
    if (accepted[i] < from || allowedAt <= from) continue;
    waited++;
    maxMs = Math.max(maxMs, accepted[i] - allowedAt);
  }
  return { waited, maxMs };
}

/**
 * The Plane requests since `from`, counted by method, path (ids left out), the query's parameter
 * names and status: what the budget went on, when a burst takes longer than its windows should.
 */
function planeRequestKinds(stack: Stack, from: number): string {
  const counts = new Map<string, number>();
  for (const e of stack.planeRequests()) {
    if (Date.parse(e.at) < from) continue;
    const path = e.path
      .replace(/^\/api\/v1\/workspaces\/[^/]+\/projects\/[^/]+/, '')
      .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, ':id')
      .replace(/\/\d+/g, '/:n');
    // The query's parameter names tell a lookup by marker from a poll's page.
    const query = Object.keys(e.query ?? {})
      .sort()
      .join(',');
    const kind = `${e.method} ${path || '/'}${query ? `?${query}` : ''} ${e.status}`;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].map(([kind, n]) => `${kind} ×${n}`).join(', ') || 'none';
}

/** Gaps between consecutive mutations the sandbox GitHub received. */
function githubMutationGaps(stack: Stack): number[] {
  const times = stack.sandbox.log
    .entries({ tracker: 'github' })
    .filter((e) => e.method !== 'GET')
    .map((e) => Date.parse(e.at))
    .sort((a, b) => a - b);
  return times.slice(1).map((t, i) => t - times[i]);
}
