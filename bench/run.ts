import { parseArgs } from 'node:util';
import { join } from 'node:path';
import type { QueueBackendKind } from '../src/queues/queue-backend.ts';
import { BACKEND_NAME, backendSection, onBackend, parseBackends } from './backends.ts';
import { summarize, type Figure, type RunResult } from './figures.ts';
import { describeMachine } from './machine.ts';
import { writeReport, type Report } from './report.ts';
import { progress } from './progress.ts';
import { wrkAvailable } from './load.ts';
import { ROOT } from './stack.ts';
import { runIntake } from './intake.ts';
import { runSync } from './sync.ts';
import { runEconomy } from './economy.ts';
import { runBudget } from './budget.ts';
import { runBackfill } from './backfill.ts';
import { runLatency } from './latency.ts';
import { runScale } from './scale.ts';
import { runSoak } from './soak.ts';

/**
 * `npm run bench [-- --runs N] [--quick] [--only intake,sync,...] [--backends redis,postgres] [--profile]`
 *
 * Runs each benchmark `runs` times (3 by default), each run in its own database and Redis prefix,
 * and writes bench/report.md and bench/report.json with the medians. The intake, sync and budget
 * sections run once per queue backend named in `--backends` (both by default), each on a stack of
 * its own, alternating within a run so a machine that slows down does not always penalise the
 * same backend; the other sections run on Redis. `--quick` shrinks every
 * workload to a smoke test (one run, a couple of minutes) and writes bench/report-quick.* instead;
 * `--profile` writes CPU profiles of run 1's `trackline api` (intake) and `trackline start` (sync)
 * to bench/profiles/ and names their top costs in the report. The intake benchmark needs wrk
 * (apt-get install -y wrk).
 */

const USAGE = `Usage: npm run bench -- [--runs N] [--quick] [--only ${'intake,sync,latency,economy,budget,backfill,scale,soak'}] [--backends redis,postgres] [--profile]\n(soak runs only when named in --only; --backends applies to intake, sync and budget, the others run on Redis)`;

interface Mode {
  quick: boolean;
  profileDir: string | null;
}

type Section = {
  name: string;
  /** `backend` is the queue backend to measure; only sections marked `perBackend` look at it. */
  run(run: number, mode: Mode, backend: QueueBackendKind): Promise<RunResult>;
  /** Measured on every backend of `--backends`, not only on Redis. */
  perBackend?: boolean;
  skip?(): string | null;
  /** Runs only when named in --only (the soak takes ten minutes a run). */
  optIn?: boolean;
};

const SECTIONS: Section[] = [
  {
    name: 'intake',
    perBackend: true,
    skip: () => (wrkAvailable() ? null : 'wrk is not installed (apt-get update && apt-get install -y wrk)'),
    run: (run, { quick, profileDir }, backend) =>
      runIntake({
        backend,
        run,
        warmupS: quick ? 1 : 3,
        durationS: quick ? 3 : 10,
        connections: 50,
        openLoopRate: 500,
        openLoopS: quick ? 2 : 5,
        // One profile per backend (each lands in a directory of its own).
        profileDir: run === 1 ? profileDir : null,
      }),
  },
  {
    name: 'sync',
    perBackend: true,
    run: (run, { quick, profileDir }, backend) =>
      runSync({
        run,
        backend,
        items: quick ? 1000 : 5000,
        latencyRate: 100,
        latencyS: quick ? 3 : 8,
        profileDir: run === 1 ? profileDir : null,
      }),
  },
  // About 90 s a run: a burst has to wait for Plane's one-minute window.
  { name: 'latency', run: (run, { quick }) => runLatency({ run, samples: quick ? 3 : 5, burst: 70 }) },
  { name: 'economy', run: (run, { quick }) => runEconomy({ run, items: quick ? 100 : 300, burst: 100 }) },
  // 1,000 changes at 10 requests/s is about 100 s per run; quick mode keeps the shape with 150.
  {
    name: 'budget',
    perBackend: true,
    run: (run, { quick }, backend) => runBudget({ run, backend, changes: quick ? 150 : 1000, workers: 3, requestsPerSecond: 10 }),
  },
  { name: 'backfill', run: (run, { quick }) => runBackfill({ run, issues: quick ? 2000 : 10_000 }) },
  // The sync and the event intake on an empty database and on one holding 200,000 synced items.
  {
    name: 'scale',
    skip: () => (wrkAvailable() ? null : 'wrk is not installed (apt-get update && apt-get install -y wrk)'),
    run: (run, { quick }) => runScale({ run, items: quick ? 1000 : 5000, seeded: quick ? 20_000 : 200_000, intakeS: quick ? 3 : 10 }),
  },
  { name: 'soak', optIn: true, run: (run, { quick }) => runSoak({ run, durationS: quick ? 90 : 600, items: quick ? 500 : 2000 }) },
];

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        runs: { type: 'string' },
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        profile: { type: 'boolean', default: false },
        backends: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = args.quick ?? false;
  const runs = args.runs === undefined ? (quick ? 1 : 3) : Number(args.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    console.error(`--runs takes a whole number from 1 to 20\n${USAGE}`);
    return 2;
  }
  const only = args.only ? args.only.split(',').map((s) => s.trim()) : null;
  const unknown = only?.filter((n) => !SECTIONS.some((s) => s.name === n)) ?? [];
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const backends = parseBackends(args.backends);
  if (typeof backends === 'string') {
    console.error(`${backends}\n${USAGE}`);
    return 2;
  }
  const mode: Mode = { quick, profileDir: args.profile ? join(ROOT, 'bench', 'profiles') : null };

  // Every wait inside the benchmarks is bounded; this is the backstop for the whole run, which
  // measures the per-backend sections once for each backend.
  const limitMs = (quick ? 10 : 90) * backends.length * 60_000;
  setTimeout(() => {
    console.error(`bench: still running after ${limitMs / 60_000} minutes; giving up`);
    process.kill(process.pid, 'SIGTERM');
  }, limitMs).unref();

  const started = Date.now();
  const machine = await describeMachine();
  progress(
    'bench',
    `${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadAverageAtStart}; ${runs} run(s)${quick ? ', quick' : ''}; queues on ${backends.map((b) => BACKEND_NAME[b]).join(' and ')}`,
  );
  const report: Report = {
    startedAt: new Date(started).toISOString(),
    durationS: 0,
    options: { runs, quick, only, backends },
    machine,
    figures: [],
    failures: [],
    notes: [],
  };
  const perRun: Figure[][] = [];
  for (const section of SECTIONS) {
    if (only ? !only.includes(section.name) : section.optIn) continue;
    const skipped = section.skip?.();
    if (skipped) {
      progress(section.name, `skipped: ${skipped}`);
      report.failures.push({ section: section.name, error: `skipped: ${skipped}` });
      continue;
    }
    for (let run = 1; run <= runs; run++) {
      for (const backend of section.perBackend ? backends : (['redis'] as const)) {
        const name = backendSection(section.name, backend);
        const t0 = Date.now();
        try {
          const result = await section.run(run, mode, backend);
          perRun.push(onBackend(result.figures, backend));
          report.notes.push(...result.notes.map((n) => `${name} run ${run}: ${n}`));
          progress(name, `run ${run}/${runs} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        } catch (error) {
          const message = (error as Error).stack ?? String(error);
          progress(name, `run ${run} failed: ${message}`);
          report.failures.push({ section: `${name} (run ${run})`, error: message });
        }
      }
    }
  }
  // Figures with the same id from several runs fold into medians.
  report.figures = summarize(perRun);
  if (mode.profileDir)
    report.notes.push(
      'CPU profiles of run 1 (intake: `trackline api`; sync: `trackline start`) written to bench/profiles/ (open in Chrome DevTools).',
    );
  report.durationS = (Date.now() - started) / 1000;
  // A smoke run must not overwrite the last real measurement.
  const name = quick ? 'report-quick' : 'report';
  writeReport(report, { md: join(ROOT, 'bench', `${name}.md`), json: join(ROOT, 'bench', `${name}.json`) });
  progress('bench', `wrote bench/${name}.md and bench/${name}.json in ${Math.round(report.durationS)} s`);
  for (const f of report.figures) {
    if (f.met === false) progress('bench', `goal missed: ${f.section} ${f.label}`);
  }
  return report.failures.length ? 1 : 0;
}

process.exitCode = await main();
// Stray handles (a Redis reconnect timer in a failed section) must not keep a finished run alive.
setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
