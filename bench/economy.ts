import { figure, type RunResult } from './figures.ts';
import { postBatches, postEvents, upsert } from './orchestrator.ts';
import { progress, sleep, waitUntil } from './progress.ts';
import { Stack } from './stack.ts';
import { TrackerWatch } from './tracker-watch.ts';

/**
 * Figure 3, API-call economy: how many tracker writes Trackline spends, counted where the tracker
 * counts them (the sandbox's request log), with the default coalescing window (500 ms).
 *
 * - distinct changes: M items created (title, state, labels and a custom field carried as a
 *   label, `risk = "label:risk-"`), then each changed once: a third the state, a third the
 *   milestone (joining a Plane cycle, a write of its own), a third the custom field (its label
 *   swapped); writes ÷ 2M. The cycles and labels exist beforehand, as in a project in use: their
 *   one-off creation is not what a change costs;
 * - a burst: 100 updates to one item, sent back to back as separate requests; the writes that
 *   reach its issue. Coalescing should spend one write at the start and one trailing write with
 *   the final state once the burst is over, however long it took to send.
 *
 * The reference is the least possible: one write per change, one write per burst (its final
 * state). These are counts, not timings, so they do not drift with the machine's load.
 */

export interface EconomyOptions {
  run: number;
  items: number;
  burst: number;
}

const SECTION = 'economy';
const SOURCE =
  'benchmark brief (API-call economy); DESIGN.md §3 snapshot semantics: many events for one item coalesce into one job and one set of API calls';

export async function runEconomy(options: EconomyOptions): Promise<RunResult> {
  const stack = await Stack.open({
    label: 'economy',
    connection: { rate_limit: 'off', field_map: { risk: 'label:risk-' } },
    labels: ['backend', 'frontend', 'risk-low', 'risk-high'],
  });
  for (const name of ['Sprint 1', 'Sprint 2']) stack.sandbox.planeGroups.createCycle(stack.project.projectId, { name });
  const watch = new TrackerWatch(stack.sandbox.plane);
  try {
    const app = await stack.spawn('start');
    const api = app.url!;
    const m = options.items;
    const keys = Array.from({ length: m }, (_, i) => `econ/${options.run}/${i}`);
    const burstKey = `econ/${options.run}/burst`;
    const log = stack.sandbox.log;

    progress(SECTION, `run ${options.run}: ${m} items created, then each changed once`);
    log.clear();
    await postBatches(
      api,
      [...keys, burstKey].map((key) =>
        upsert(key, {
          title: `Item ${key}`,
          state: 'planned',
          labels: ['backend'],
          ...(key === burstKey ? {} : { fields: { risk: 'low' } }),
        }),
      ),
      { batch: 100 },
    );
    await waitUntil(SECTION, () => watch.created.size >= m + 1, {
      timeoutMs: 120_000,
      what: 'creates',
      describe: () => `${watch.created.size}/${m + 1} created`,
    });
    // One change per item: the state, the milestone or the custom field, in turn.
    const change = (i: number) => [{ state: 'doing' }, { milestone: 'Sprint 1' }, { fields: { risk: 'high' } }][i % 3]!;
    await postBatches(
      api,
      keys.map((key, i) => upsert(key, change(i))),
      { batch: 100 },
    );
    // Joining a cycle leaves the work item as it is, so "synced" is read from the mappings.
    let synced = 0;
    await waitUntil(
      SECTION,
      async () => {
        [{ synced }] = await stack.sql<{ synced: number }[]>`
          select count(*)::int as synced from mappings m join items i on i.key = m.item_key
          where m.item_key in ${stack.sql(keys)} and m.synced_version >= i.version and i.version >= 2 and m.pending_push is null`;
        return synced >= m;
      },
      { timeoutMs: 120_000, what: 'updates', describe: () => `${synced}/${m} synced` },
    );
    // Anything extra (a second write for one change) would come right after: give it time to show.
    await sleep(1500);
    // Calls about the burst item (its create) are left out: they belong to the burst below.
    const burstIssue = issueIdOf(stack, burstKey);
    const distinctLog = log
      .entries({ tracker: 'plane' })
      .filter((e) => !e.path.includes(burstIssue) && (e.body as { external_id?: string } | null)?.external_id !== burstKey);
    const distinctWrites = distinctLog.filter((e) => e.method !== 'GET' && e.method !== 'HEAD').length;
    const distinctCalls = distinctLog.length;
    const changes = 2 * m;
    progress(SECTION, `run ${options.run}: ${distinctWrites} writes, ${distinctCalls} calls in all, for ${changes} distinct changes`);

    // The burst starts once the burst item's own create is outside the coalescing window.
    await waitUntil(
      SECTION,
      async () => (await stack.sql`select 1 from mappings where item_key = ${burstKey} and status = 'synced'`).length > 0,
      { timeoutMs: 30_000, what: 'burst item synced' },
    );
    await sleep(600);
    log.clear();
    watch.mark();
    progress(SECTION, `run ${options.run}: burst of ${options.burst} updates to one item`);
    // Back to back, one request at a time, as fast as the api answers. (In parallel they are
    // slower: every request for the item waits for the item's row lock.)
    const t0 = Date.now();
    for (let i = 1; i <= options.burst; i++) await postEvents(api, [upsert(burstKey, { title: `Burst v${i}` })]);
    const burstMs = Date.now() - t0;
    // The item's latest title (the last request's) is what must arrive.
    const [{ title: final }] = await stack.sql<{ title: string }[]>`select desired->>'title' as title from items where key = ${burstKey}`;
    const issueId = issueIdOf(stack, burstKey);
    await waitUntil(SECTION, () => stack.sandbox.plane.issues.get(issueId)?.name === final, {
      timeoutMs: 30_000,
      what: 'the final state of the burst to reach the tracker (a lost update?)',
    });
    // A trailing write would follow within the window; wait past it before counting.
    await sleep(1500);
    const burstWrites = log.writes({ tracker: 'plane' }).filter((e) => e.path.includes(issueId)).length;
    progress(SECTION, `run ${options.run}: burst sent in ${burstMs} ms cost ${burstWrites} writes; the tracker holds the final state`);
    await app.stop();

    return {
      notes: [`the burst took ${burstMs} ms to send (${Math.ceil(burstMs / 500)} coalescing window(s) of 500 ms)`],
      figures: [
        figure({
          id: 'economy.writes_per_change',
          section: SECTION,
          label: 'Tracker writes per distinct change',
          unit: 'writes/change',
          value: distinctWrites / changes,
          reference: { label: 'minimum (one write per change)', unit: 'writes/change', value: 1 },
          goal: { on: 'value', op: '<=', target: 1.05, source: SOURCE },
        }),
        figure({
          id: 'economy.calls_per_change',
          section: SECTION,
          label: 'Tracker calls (reads and writes) per distinct change',
          unit: 'calls/change',
          value: distinctCalls / changes,
          reference: { label: 'minimum (one write per change)', unit: 'calls/change', value: 1 },
        }),
        figure({
          id: 'economy.writes_per_burst',
          section: SECTION,
          label: `Tracker writes for a burst of ${options.burst} updates to one item (500 ms window)`,
          unit: 'writes',
          value: burstWrites,
          reference: { label: 'minimum (one write of the final state)', unit: 'writes', value: 1 },
          goal: { on: 'value', op: '<=', target: 2, source: SOURCE },
        }),
      ],
    };
  } finally {
    watch.close();
    await stack.close();
  }
}

function issueIdOf(stack: Stack, key: string): string {
  for (const issue of stack.sandbox.plane.issues.values()) if (issue.external_id === key) return issue.id;
  throw new Error(`no issue carries item ${key}`);
}
