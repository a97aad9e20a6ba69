import { between, cpuAvailable, snapshot, type CpuWindow } from './cpu-usage.ts';
import { postBatches, upsert } from './orchestrator.ts';
import { progress, waitUntil } from './progress.ts';
import type { Stack } from './stack.ts';
import type { TrackerWatch } from './tracker-watch.ts';

/** Creates and updates per second of one saturated pass (the `sync` and `scale` sections). */
export interface Saturation {
  createRate: number;
  updateRate: number;
  /** The CPU of each process over the update pass (null where /proc is not readable). */
  updateCpu: CpuWindow | null;
}

/**
 * One saturated pass over `keys`, against a running `trackline start` at `api`: every item is
 * created (its first sync), then every item changes once (the steady state), each posted as fast
 * as the orchestrator can (batches of 500). A rate is the count over the span from the first send
 * to the tracker receiving the last write.
 */
export async function measureSaturation(
  section: string,
  label: string,
  stack: Stack,
  api: string,
  watch: TrackerWatch,
  keys: string[],
  serverPid?: number,
): Promise<Saturation> {
  const n = keys.length;
  const bound = Math.max(60_000, n * 20);
  progress(section, `${label}: creating ${n} items`);
  const createSent = await postBatches(
    api,
    keys.map((key) => upsert(key, { kind: 'task', title: `Item ${key}`, state: 'planned', labels: ['backend'], priority: 'high' })),
  );
  await waitUntil(section, () => keys.every((k) => watch.created.has(k)), {
    timeoutMs: bound,
    what: `${n} creates`,
    describe: () => `${keys.filter((k) => watch.created.has(k)).length}/${n} created`,
  });
  const createSpan = Math.max(...keys.map((k) => watch.created.get(k)!)) - Math.min(...createSent.values());
  const createRate = (n / createSpan) * 1000;
  progress(section, `${label}: ${n} creates in ${(createSpan / 1000).toFixed(1)} s (${Math.round(createRate)}/s)`);
  await waitUntil(section, async () => (await synced(stack, keys, 1)) >= n, { timeoutMs: 60_000, what: 'mappings to settle' });

  watch.mark();
  progress(section, `${label}: updating ${n} items`);
  const cpuBefore = serverPid !== undefined && cpuAvailable() ? snapshot(serverPid) : null;
  const updateSent = await postBatches(
    api,
    keys.map((key) => upsert(key, { title: `Item ${key} (renamed)` })),
  );
  await waitUntil(section, () => keys.every((k) => watch.firstUpdate(k) !== undefined), {
    timeoutMs: bound,
    what: `${n} updates`,
    describe: () => `${keys.filter((k) => watch.firstUpdate(k) !== undefined).length}/${n} updated`,
  });
  const updateCpu = cpuBefore ? between(cpuBefore, snapshot(serverPid!)) : null;
  const updateSpan = Math.max(...keys.map((k) => watch.firstUpdate(k)!)) - Math.min(...updateSent.values());
  const updateRate = (n / updateSpan) * 1000;
  progress(section, `${label}: ${n} updates in ${(updateSpan / 1000).toFixed(1)} s (${Math.round(updateRate)}/s)`);
  await waitUntil(section, async () => (await synced(stack, keys, 2)) >= n, { timeoutMs: 60_000, what: 'mappings to settle' });
  return { createRate, updateRate, updateCpu };
}

/** How many of `keys` have a mapping synced at least `version` (1 after the create, 2 after the update). */
async function synced(stack: Stack, keys: string[], version: number): Promise<number> {
  const [row] = await stack.sql<{ n: number }[]>`select count(*)::int as n from mappings
    where status = 'synced' and synced_version >= ${version} and item_key = any(${keys})`;
  return row.n;
}
