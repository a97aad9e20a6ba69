import { compiled } from './compiled.ts';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueBackendKind } from '../src/queues/queue-backend.ts';
import { backendSection } from './backends.ts';
import { figure, type Figure, type RunResult } from './figures.ts';
import { openLoop, runWrk, writeRequests, type LoadResult } from './load.ts';
import { describeStalls, findStalls } from './stalls.ts';
import { percentile } from './stats.ts';
import { describeProfile } from './profile.ts';
import { between, cpuAvailable, perRequestUs, snapshot, waitForLoad, type CpuPerRequest, type CpuWindow } from './cpu-usage.ts';
import { eventRequests as orchestratorEvents } from './orchestrator.ts';
import { captureWebhookBody, signedWebhookRequests } from './plane-webhooks.ts';
import { progress, sleep } from './progress.ts';
import { dataDirectory, probeFsync, startTailProbes, type FsyncProbe } from './tail-probes.ts';
import { API_TOKEN, CONNECTION_ID, Stack, WEBHOOK_SECRET } from './stack.ts';

/**
 * Figure 1, intake: how many signed Plane webhooks per second `trackline api` verifies, commits to
 * Postgres and enqueues, and the same for POST /v1/events, at 50 concurrent connections, next to
 * a plain Hono endpoint that only parses the body. After each measured phase the benchmark checks
 * that every delivery answered 202 is in Postgres and its job is in the queue, read through the
 * queue backend the api runs on (DESIGN §5.1: an accepted request is durable). The hand-written
 * durable peer keeps its queue in Redis whichever backend Trackline runs on.
 */

export interface IntakeOptions {
  run: number;
  warmupS: number;
  durationS: number;
  connections: number;
  /** The fixed rate (requests per second) and length of the open-loop latency phase. */
  openLoopRate: number;
  openLoopS: number;
  /** Write a CPU profile of `trackline api` here (and summarize it) when set. */
  profileDir: string | null;
  /** Where `trackline api` puts its jobs. */
  backend: QueueBackendKind;
}

const SECTION = 'intake';

export async function runIntake(options: IntakeOptions): Promise<RunResult> {
  const tag = backendSection(SECTION, options.backend);
  const stack = await Stack.open({ label: `intake-${options.backend}`, queueBackend: options.backend });
  const dir = mkdtempSync(join(tmpdir(), 'trackline-intake-'));
  try {
    progress(tag, `run ${options.run}: starting the plain reference and \`trackline api\``);
    const plain = await stack.spawnNode('plain reference', [await compiled('bench/plain-server.ts')]);
    const naive = await stack.spawnNode('naive durable peer', [await compiled('bench/naive-peer.ts')], {
      env: { NAIVE_WEBHOOK_SECRET: WEBHOOK_SECRET, NAIVE_API_TOKEN: API_TOKEN },
    });
    const fsync = probeFsync(await dataDirectory(stack));
    progress(tag, `run ${options.run}: ${fsync.summary}`);
    const profileDir = options.profileDir ? join(options.profileDir, `intake-${Date.now()}`) : null;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const api = await stack.spawn('api', { nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] });
    const template = await captureWebhookBody(stack);

    const webhookRequests = (phase: string) => (count: number) => signedWebhookRequests(template, phase, count);
    const eventRequests = (phase: string) => (count: number) => orchestratorEvents(`bench/${phase}`, count);

    // The api runs no workers, so every job it added is still waiting.
    const { inbound, reconcile } = stack.queues;
    const counts = async () => {
      const [row] = await stack.sql<{ webhooks: number; events: number }[]>`
        select count(*) filter (where kind = 'webhook' and status = 'received')::int as webhooks,
               count(*) filter (where kind = 'event')::int as events
        from deliveries where direction = 'in'`;
      // A webhook job carries every delivery of one intake commit: count deliveries, not jobs.
      const waiting = await inbound.getWaiting(0, -1);
      const inboundJobs = waiting.reduce((n, job) => n + ('deliveries' in job.data ? job.data.deliveries.length : 1), 0);
      return { ...row, inboundJobs, reconcileJobs: await reconcile.getWaitingCount() };
    };

    // The order rotates per run, so a machine that slows down during a run does not always
    // penalise the same endpoint.
    const phases = ['plain', 'naive', 'webhooks', 'naiveEvents', 'events'] as const;
    const order = phases.map((_, i) => phases[(i + options.run - 1) % phases.length]);
    const results: Partial<Record<(typeof phases)[number], PhaseResult>> = {};
    const notes: string[] = [];
    for (const phase of order) {
      const server = phase === 'plain' ? plain : phase === 'naive' || phase === 'naiveEvents' ? naive : api;
      const isEvents = phase === 'events' || phase === 'naiveEvents';
      const target = { url: server.url!, path: isEvents ? '/v1/events' : `/webhooks/${CONNECTION_ID}` };
      const make = isEvents ? eventRequests : webhookRequests;
      // Warm-up: JIT, connection pools, Postgres caches. Its rate sizes the measured file, so
      // the measured phase has a distinct request for every request it can send.
      const warmFile = join(dir, `${phase}-warm.txt`);
      await writeRequests(warmFile, make('w')(Math.ceil(options.warmupS * 6000)));
      const warm = await runWrk({ ...target, requestsFile: warmFile, connections: options.connections, durationS: options.warmupS });
      // A warm-up runs slower than the measured phase (cold JIT), so the file gets a wide margin;
      // past its end wrk starts over and the repeats show up as duplicates (200), not as 202s.
      // The plain endpoint does not deduplicate: a small file it cycles through is enough.
      const count = phase === 'plain' ? 20_000 : Math.min(150_000, Math.ceil(Math.max(warm.rps, 1000) * options.durationS * 2.5) + 5000);
      const file = join(dir, `${phase}.txt`);
      await writeRequests(file, make('m')(count));
      await sleep(500);
      const before = await counts();
      progress(
        tag,
        `run ${options.run}: ${phase}: ${options.durationS} s at ${options.connections} connections (warm-up ran at ${Math.round(warm.rps)}/s)`,
      );
      const measured = runWrk({ ...target, requestsFile: file, connections: options.connections, durationS: options.durationS });
      // A wrk that ends (or fails) before the server ever gets busy ends the wait too.
      const cpuWindow = await Promise.race([measureCpu(server.pid, options.durationS), measured.then(() => null)]);
      const load = await measured;
      // wrk's rate excludes its start-up (reading the request file), so it holds inside the window.
      const cpu = cpuWindow ? perRequestUs(cpuWindow, load.rps * cpuWindow.seconds) : null;
      // Requests in flight when wrk stopped may still commit; let them land before counting.
      await sleep(1000);
      const after = await counts();
      const accepted = load.statuses['202'] ?? 0;
      let durable: number | undefined;
      if (phase === 'webhooks') durable = Math.min(accepted, after.webhooks - before.webhooks, after.inboundJobs - before.inboundJobs);
      if (phase === 'events') durable = Math.min(accepted, after.events - before.events, after.reconcileJobs - before.reconcileJobs);
      results[phase] = { load, durable, cpu, machineBusy: cpuWindow?.machineBusy ?? 0 };
      const other = Object.entries(load.statuses).filter(([s]) => s !== '202');
      const socketErrors = Object.values(load.socketErrors).reduce((a, b) => a + b, 0);
      if (other.length || socketErrors)
        notes.push(
          `${phase}: besides ${accepted} × 202, answers ${JSON.stringify(Object.fromEntries(other))} and ${socketErrors} socket errors (${JSON.stringify(load.socketErrors)})`,
        );
      progress(
        tag,
        `run ${options.run}: ${phase}: ${Math.round(accepted / load.durationS)}/s accepted, p50 ${load.latencyMs.p50.toFixed(2)} ms, p99 ${load.latencyMs.p99.toFixed(2)} ms` +
          (other.length ? `, other answers ${JSON.stringify(Object.fromEntries(other))}` : '') +
          (durable !== undefined ? `, durable ${durable}/${accepted}` : '') +
          (cpu ? `; CPU per request ${describeCpu(cpu, results[phase].machineBusy)}` : ''),
      );
    }
    // Below saturation: the same requests on a fixed schedule, for the latency a tracker or the
    // orchestrator sees on a normal day; during Trackline's phases, probes of what its answer
    // waits on (a commit, a Redis round trip, its own event loop) for the tail's breakdown.
    const openPhases = ['plain', 'naive', 'webhooks', 'events'] as const;
    const open = {} as Record<(typeof openPhases)[number], { p50: number; p99: number }>;
    for (const phase of openPhases) {
      const server = phase === 'plain' ? plain : phase === 'naive' ? naive : api;
      const path = phase === 'events' ? '/v1/events' : `/webhooks/${CONNECTION_ID}`;
      const make = phase === 'events' ? eventRequests : webhookRequests;
      // A second at the rate first, unmeasured: the phases before leave the server busy for a moment.
      await openLoop({
        url: server.url!,
        path,
        requests: [...make(`u${phase.slice(0, 2)}`)(options.openLoopRate)],
        ratePerS: options.openLoopRate,
      });
      const requests = [...make(`o${phase.slice(0, 2)}`)(Math.round(options.openLoopRate * options.openLoopS))];
      const probing = phase === 'webhooks' || phase === 'events' ? await startTailProbes(stack, api.url!) : null;
      const { latenciesMs, inScheduleOrder, statuses } = await openLoop({
        url: server.url!,
        path,
        requests,
        ratePerS: options.openLoopRate,
      });
      const tail = await probing?.stop();
      notes.push(
        `${phase} at ${options.openLoopRate}/s, the slow requests in time: ${describeStalls(findStalls(inScheduleOrder, options.openLoopRate))}`,
      );
      open[phase] = { p50: percentile(latenciesMs, 50), p99: percentile(latenciesMs, 99) };
      const other = Object.entries(statuses).filter(([st]) => st !== '202');
      if (other.length)
        notes.push(`${phase} at ${options.openLoopRate}/s: besides 202, answers ${JSON.stringify(Object.fromEntries(other))}`);
      if (tail)
        notes.push(
          `${phase} at ${options.openLoopRate}/s, where the tail comes from: answer p99 ${open[phase].p99.toFixed(1)} ms; ${tail}; fsync p99 ${fsync.p99Ms.toFixed(1)} ms`,
        );
      progress(
        tag,
        `run ${options.run}: ${phase} at ${options.openLoopRate}/s (open loop): p50 ${open[phase].p50.toFixed(2)} ms, p99 ${open[phase].p99.toFixed(2)} ms${tail ? `; ${tail}` : ''}`,
      );
    }
    const rss = { api: api.peakRssMb(), naive: naive.peakRssMb() };
    await naive.stop();
    await api.stop();
    await plain.stop();
    if (profileDir) notes.push(...describeProfile('intake (webhooks and events)', profileDir));
    const all = results as Required<typeof results>;
    notes.push(...cpuNotes(all));
    notes.push(fsync.summary);
    return {
      figures: [
        ...figures(all),
        ...cpuFigures(all),
        ...openLoopFigures(open, options.openLoopRate, fsync.p99Ms),
        ...fsyncFigures(fsync),
        ...rssFigures(rss),
      ],
      notes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await stack.close();
  }
}

type PhaseResult = { load: LoadResult; durable?: number; cpu: CpuPerRequest | null; machineBusy: number };

/**
 * The CPU window of a phase: from once the server under test is busy (wrk first reads its request
 * file, which can take seconds) for about 40% of the phase, so it ends well before wrk does.
 */
async function measureCpu(serverPid: number, durationS: number): Promise<CpuWindow | null> {
  if (!cpuAvailable()) return null;
  if (!(await waitForLoad(serverPid, 60_000))) return null;
  await sleep(300);
  const start = snapshot(serverPid);
  await sleep(Math.min(4000, durationS * 400));
  return between(start, snapshot(serverPid));
}

const CPU_ROLES = ['server', 'postgres', 'redis', 'load generator'] as const;

function describeCpu(cpu: CpuPerRequest, machineBusy: number): string {
  const parts = CPU_ROLES.filter((role) => cpu[role] >= 0.5).map((role) => `${role} ${cpu[role].toFixed(0)}`);
  return `${parts.join(' + ')} = ${cpu.total.toFixed(0)} µs (machine ${(machineBusy * 100).toFixed(0)}% busy)`;
}

/**
 * What the CPU numbers mean for the ratio goal: the CPU time a request may cost in all (server,
 * Postgres, Redis, wrk) if the intake is to answer half as many requests per second as the plain
 * endpoint on this machine's cores, next to what it costs.
 */
function cpuNotes(r: Record<'plain' | 'webhooks' | 'events', PhaseResult>): string[] {
  const { plain, webhooks } = r;
  if (!plain.cpu || !webhooks.cpu) return [];
  const cores = availableParallelism();
  const budgetUs = (cores * 1e6) / (0.5 * plain.load.rps);
  const ceiling = (cores * 1e6) / webhooks.cpu.total;
  return [
    `intake CPU per request, measured from /proc over ~4 s of each saturated phase: plain ${describeCpu(plain.cpu, plain.machineBusy)}; ` +
      `webhooks ${describeCpu(webhooks.cpu, webhooks.machineBusy)}` +
      (r.events.cpu ? `; events ${describeCpu(r.events.cpu, r.events.machineBusy)}` : '') +
      `. At 0.5 of the plain rate (${Math.round(0.5 * plain.load.rps).toLocaleString('en-US')}/s) ${cores} cores leave ${budgetUs.toFixed(0)} µs of CPU per request for all four; ` +
      `a webhook costs ${webhooks.cpu.total.toFixed(0)} µs, so even with every core busy the intake could answer at most ~${Math.round(ceiling).toLocaleString('en-US')}/s (${(ceiling / plain.load.rps).toFixed(2)} of plain).`,
  ];
}

function cpuFigures(r: Record<'plain' | 'webhooks' | 'events', PhaseResult>): Figure[] {
  const plainCpu = r.plain.cpu;
  if (!plainCpu) return [];
  const out: Figure[] = [];
  for (const [phase, what] of [
    ['webhooks', 'Signed Plane webhooks'],
    ['events', 'POST /v1/events'],
  ] as const) {
    const cpu = r[phase].cpu;
    if (!cpu) continue;
    out.push(
      figure({
        id: `intake.${phase}.cpu`,
        section: SECTION,
        label: `${what}: CPU per request, server + Postgres + Redis + wrk (saturated)`,
        unit: 'µs',
        value: cpu.total,
        reference: { label: 'plain endpoint + wrk', unit: 'µs', value: plainCpu.total },
      }),
      figure({
        id: `intake.${phase}.cpu.server`,
        section: SECTION,
        label: `${what}: CPU per request in \`trackline api\` itself`,
        unit: 'µs',
        value: cpu.server,
        reference: { label: 'plain endpoint process', unit: 'µs', value: plainCpu.server },
      }),
      figure({
        id: `intake.${phase}.cpu.postgres`,
        section: SECTION,
        label: `${what}: CPU per request in Postgres (all its processes)`,
        unit: 'µs',
        value: cpu.postgres,
        reference: { label: 'plain endpoint + wrk', unit: 'µs', value: plainCpu.total },
      }),
    );
  }
  return out;
}

type Phases = Record<'plain' | 'naive' | 'webhooks' | 'naiveEvents' | 'events', PhaseResult>;

function figures(r: Phases): Figure[] {
  const plainRef = { label: 'plain Hono endpoint (parse JSON only)', unit: 'req/s', value: r.plain.load.rps };
  const out: Figure[] = [];
  for (const [phase, peer, what, target] of [
    ['webhooks', 'naive', 'Signed Plane webhooks verified, committed, enqueued', 3],
    ['events', 'naiveEvents', 'POST /v1/events (one event each) committed, enqueued', 2],
  ] as const) {
    const { load, durable } = r[phase];
    const accepted = load.statuses['202'] ?? 0;
    const peerLoad = r[peer].load;
    const peerRef = {
      label: 'naive durable peer (INSERT + queue.add to Redis per request)',
      unit: 'req/s',
      value: (peerLoad.statuses['202'] ?? 0) / peerLoad.durationS,
    };
    out.push(
      figure({
        id: `intake.${phase}.rps`,
        section: SECTION,
        label: `${what}, per second`,
        unit: 'req/s',
        value: accepted / load.durationS,
        reference: peerRef,
        goal: { on: 'ratio', op: '>=', target, source: `issue 17: ≥ ${target}× the hand-written durable peer, same run` },
      }),
      figure({
        id: `intake.${phase}.rps.plain`,
        section: SECTION,
        label: `${what}, per second, against the plain endpoint`,
        unit: 'req/s',
        value: accepted / load.durationS,
        reference: plainRef,
      }),
      figure({
        id: `intake.${phase}.p50`,
        section: SECTION,
        label: `${what}: p50 latency (saturated)`,
        unit: 'ms',
        value: load.latencyMs.p50,
        reference: { label: 'naive peer p50', unit: 'ms', value: peerLoad.latencyMs.p50 },
      }),
      figure({
        id: `intake.${phase}.p99`,
        section: SECTION,
        label: `${what}: p99 latency (saturated)`,
        unit: 'ms',
        value: load.latencyMs.p99,
        reference: { label: 'naive peer p99', unit: 'ms', value: peerLoad.latencyMs.p99 },
      }),
      figure({
        id: `intake.${phase}.durable`,
        section: SECTION,
        label: `${what}: accepted (202) and found in Postgres and the queue`,
        unit: 'requests',
        value: durable ?? 0,
        reference: { label: 'answered 202', unit: 'requests', value: accepted },
        goal: {
          on: 'ratio',
          op: '>=',
          target: 1,
          source: 'DESIGN.md §5.1: an accepted request (2xx) is durable',
          everyRun: true,
          allBackends: true,
        },
      }),
    );
  }
  out.push(
    figure({
      id: 'intake.naive.rps',
      section: SECTION,
      label: 'Naive durable peer, signed webhooks per second',
      unit: 'req/s',
      value: (r.naive.load.statuses['202'] ?? 0) / r.naive.load.durationS,
      reference: plainRef,
    }),
  );
  return out;
}

function openLoopFigures(
  open: Record<'plain' | 'naive' | 'webhooks' | 'events', { p50: number; p99: number }>,
  rate: number,
  fsyncP99: number,
): Figure[] {
  const target = Math.max(10, fsyncP99 + 3);
  const out: Figure[] = [
    // The floor of every open-loop figure: the same generator, machine and rate against an endpoint
    // that does no I/O. What a server adds to its p99 is its p99 above this one.
    figure({
      id: 'intake.plain.open.p99',
      section: SECTION,
      label: `Plain endpoint at ${rate}/s (open loop): p99 latency, the generator's and the machine's floor`,
      unit: 'ms',
      value: open.plain.p99,
      reference: { label: `plain endpoint p50 at ${rate}/s`, unit: 'ms', value: open.plain.p50 },
    }),
  ];
  for (const [phase, what] of [
    ['webhooks', `Signed Plane webhooks at ${rate}/s (open loop)`],
    ['events', `POST /v1/events at ${rate}/s (open loop)`],
  ] as const) {
    out.push(
      figure({
        id: `intake.${phase}.open.p50`,
        section: SECTION,
        label: `${what}: p50 latency`,
        unit: 'ms',
        value: open[phase].p50,
        reference: { label: `plain endpoint p50 at ${rate}/s`, unit: 'ms', value: open.plain.p50 },
      }),
      figure({
        id: `intake.${phase}.open.p99`,
        section: SECTION,
        label: `${what}: p99 latency`,
        unit: 'ms',
        value: open[phase].p99,
        reference: { label: `naive peer p99 at ${rate}/s (webhooks)`, unit: 'ms', value: open.naive.p99 },
        goal: {
          on: 'value',
          op: '<=',
          target: Number(target.toFixed(1)),
          source: `issue 17: p99 ≤ max(10 ms, the disk's fsync p99 + 3 ms); this run's fsync p99 ${fsyncP99.toFixed(1)} ms`,
        },
      }),
    );
  }
  return out;
}

function fsyncFigures(fsync: FsyncProbe): Figure[] {
  return [
    figure({
      id: 'intake.fsync.p99',
      section: SECTION,
      label: "The disk's fsync p99 (8 kB write + fdatasync, as the WAL does)",
      unit: 'ms',
      value: fsync.p99Ms,
      reference: { label: 'fsync p50', unit: 'ms', value: fsync.p50Ms },
    }),
  ];
}

function rssFigures(rss: { api: number | null; naive: number | null }): Figure[] {
  if (rss.api === null) return [];
  return [
    figure({
      id: 'intake.rss.api',
      section: SECTION,
      label: 'Peak RSS of `trackline api` over the section',
      unit: 'MB',
      value: rss.api,
      reference: { label: 'naive peer', unit: 'MB', value: rss.naive ?? Number.NaN },
      goal: { on: 'value', op: '<', target: 150, source: 'issue 17: trackline api under 150 MB' },
    }),
  ];
}
