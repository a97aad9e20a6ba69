import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { figure, type RunResult } from './figures.ts';
import { runWrk, writeRequests } from './load.ts';
import { eventRequests } from './orchestrator.ts';
import { progress, sleep } from './progress.ts';
import { measureSaturation, type Saturation } from './saturation.ts';
import { seedHistory } from './seed-history.ts';
import { CONNECTION_ID, Stack } from './stack.ts';
import { TrackerWatch } from './tracker-watch.ts';

/**
 * Cost as the data grows (issue 17, part 4): the saturated sync and the event intake measured
 * twice in one run, on an empty database and on one already holding the history of `seeded`
 * synced items (bench/seed-history.ts). The empty database is the reference: a ratio near 1 says
 * the cost of a change does not grow with what is stored.
 */
export interface ScaleOptions {
  run: number;
  /** Items created and updated in each saturated pass. */
  items: number;
  /** Items already mapped in the seeded database. */
  seeded: number;
  /** Length of each intake measurement, seconds (50 connections, one event per request). */
  intakeS: number;
}

const SECTION = 'scale';
const GOAL_SOURCE = 'issue 17: the cost of a change does not grow with the data (≥ 0.8 of the empty database)';

interface Pass {
  sync: Saturation;
  eventsPerS: number;
  rssMb: { start: number | null; api: number | null };
}

export async function runScale(options: ScaleOptions): Promise<RunResult> {
  const empty = await pass(options, 0);
  const seeded = await pass(options, options.seeded);
  const n = options.seeded.toLocaleString('en');
  const emptyRef = (value: number, unit: string) => ({ label: 'the same, empty database', unit, value });
  return {
    notes: [`seeded database: ${n} items mapped and synced, ${n} × 2 deliveries, ${n} × 2 audit rows, ${n} ÷ 10 changes`],
    figures: [
      figure({
        id: 'scale.sync.updates.rps',
        section: SECTION,
        label: `Synced changes per second (saturated) with ${n} items already mapped`,
        unit: 'changes/s',
        value: seeded.sync.updateRate,
        reference: emptyRef(empty.sync.updateRate, 'changes/s'),
        goal: { on: 'ratio', op: '>=', target: 0.8, source: GOAL_SOURCE },
      }),
      figure({
        id: 'scale.sync.creates.rps',
        section: SECTION,
        label: `Items created per second (saturated) with ${n} items already mapped`,
        unit: 'items/s',
        value: seeded.sync.createRate,
        reference: emptyRef(empty.sync.createRate, 'items/s'),
        goal: { on: 'ratio', op: '>=', target: 0.8, source: GOAL_SOURCE },
      }),
      figure({
        id: 'scale.intake.events.rps',
        section: SECTION,
        label: `POST /v1/events accepted per second (one event a request) with ${n} items stored`,
        unit: 'events/s',
        value: seeded.eventsPerS,
        reference: emptyRef(empty.eventsPerS, 'events/s'),
        goal: { on: 'ratio', op: '>=', target: 0.8, source: GOAL_SOURCE },
      }),
      ...(seeded.rssMb.start !== null && empty.rssMb.start !== null
        ? [
            figure({
              id: 'scale.rss.start',
              section: SECTION,
              label: `Peak RSS of \`trackline start\` during the saturated sync, ${n} items stored`,
              unit: 'MB',
              value: seeded.rssMb.start,
              reference: emptyRef(empty.rssMb.start, 'MB'),
            }),
          ]
        : []),
    ],
  };
}

async function pass(options: ScaleOptions, seeded: number): Promise<Pass> {
  const stack = await Stack.open({ label: 'scale', connection: { rate_limit: 'off' }, worker: { coalesce_window: '0' } });
  const watch = new TrackerWatch(stack.sandbox.plane);
  const dir = mkdtempSync(join(tmpdir(), 'trackline-scale-'));
  const label = `run ${options.run}, ${seeded ? `${seeded.toLocaleString('en')} items stored` : 'empty database'}`;
  try {
    if (seeded) {
      const t0 = Date.now();
      progress(SECTION, `${label}: seeding`);
      await seedHistory(stack, seeded, CONNECTION_ID);
      progress(SECTION, `${label}: seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const start = await stack.spawn('start');
    const keys = Array.from({ length: options.items }, (_, i) => `scale/${options.run}/${i}`);
    const sync = await measureSaturation(SECTION, label, stack, start.url!, watch, keys);
    const startRss = start.peakRssMb();
    await start.stop();

    // Intake alone (no workers): new items, one event a request, at 50 connections.
    const api = await stack.spawn('api');
    const file = join(dir, 'events.txt');
    await writeRequests(file, eventRequests(`intake/${options.run}/${seeded}`, 20_000 + options.intakeS * 4000));
    await runWrk({ url: api.url!, path: '/v1/events', requestsFile: file, connections: 50, durationS: 2 });
    await sleep(500);
    const measuredFile = join(dir, 'events-measured.txt');
    await writeRequests(measuredFile, eventRequests(`intake/${options.run}/${seeded + 1}`, 20_000 + options.intakeS * 4000));
    const load = await runWrk({
      url: api.url!,
      path: '/v1/events',
      requestsFile: measuredFile,
      connections: 50,
      durationS: options.intakeS,
    });
    const eventsPerS = (load.statuses['202'] ?? 0) / load.durationS;
    progress(SECTION, `${label}: events intake ${Math.round(eventsPerS)}/s accepted, p99 ${load.latencyMs.p99.toFixed(1)} ms`);
    const apiRss = api.peakRssMb();
    await api.stop();
    return { sync, eventsPerS, rssMb: { start: startRss, api: apiRss } };
  } finally {
    watch.close();
    rmSync(dir, { recursive: true, force: true });
    await stack.close();
  }
}
