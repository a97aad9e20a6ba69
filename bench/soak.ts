import { Queues } from '../src/queues/queues.ts';
import { RedisQueueBackend } from '../src/queues/redis-queue-backend.ts';
import { figure, type RunResult } from './figures.ts';
import { postEvents, upsert } from './orchestrator.ts';
import { progress, sleep } from './progress.ts';
import { measureSaturation } from './saturation.ts';
import { REDIS_URL, rssMb, Stack } from './stack.ts';
import { TrackerWatch } from './tracker-watch.ts';

/**
 * The soak (`npm run bench -- --only soak`, never in the default run): `trackline start` under a
 * steady half of its own saturated sync rate (measured first, in the same run) for `durationS`,
 * sampled every 10 s. What it shows: memory that stops growing after the first minute (goal:
 * under 10 % growth from minute one to the end), no failed request or delivery, and a queue that
 * stays flat (goal: the depth at the end no more than a second of work).
 */
export interface SoakOptions {
  run: number;
  durationS: number;
  /** Items of the short saturated pass that sets the rate; the soak then changes them in turn. */
  items: number;
}

const SECTION = 'soak';
const SOURCE = 'issue 17: 10 minutes at half the saturated sync rate; RSS growth under 10 % after the first minute, no error, queue flat';

interface Sample {
  atS: number;
  rssMb: number | null;
  depth: number;
}

export async function runSoak(options: SoakOptions): Promise<RunResult> {
  const stack = await Stack.open({ label: 'soak', connection: { rate_limit: 'off' }, worker: { coalesce_window: '0' } });
  const watch = new TrackerWatch(stack.sandbox.plane);
  const queues = new Queues(await RedisQueueBackend.connect(REDIS_URL, stack.redisPrefix, { workers: false }), {
    attempts: 8,
    backoffMs: 1000,
  });
  try {
    const start = await stack.spawn('start');
    const keys = Array.from({ length: options.items }, (_, i) => `soak/${options.run}/${i}`);
    const { updateRate } = await measureSaturation(SECTION, `run ${options.run}: setting the rate`, stack, start.url!, watch, keys);
    const rate = Math.max(1, Math.round(updateRate / 2));
    progress(SECTION, `run ${options.run}: ${rate} changes/s (half of ${Math.round(updateRate)}/s) for ${options.durationS} s`);

    const depth = async () => {
      const counts = await queues.reconcile.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    };
    const samples: Sample[] = [];
    let refused = 0;
    let sent = 0;
    const inFlight = new Set<Promise<void>>();
    const t0 = Date.now();
    let nextSample = t0;
    for (let i = 0; ; i++) {
      const due = t0 + (i * 1000) / rate;
      if (due - t0 >= options.durationS * 1000) break;
      if (Date.now() >= nextSample) {
        samples.push({ atS: (Date.now() - t0) / 1000, rssMb: rssMb(start.pid), depth: await depth() });
        const last = samples.at(-1)!;
        progress(
          SECTION,
          `run ${options.run}: ${Math.round(last.atS)} s: RSS ${last.rssMb?.toFixed(0)} MB, queue ${last.depth}, ${refused} refused`,
        );
        nextSample += 10_000;
      }
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      const key = keys[i % keys.length];
      const posted = postEvents(start.url!, [upsert(key, { title: `Item ${key} #${i}` })]).catch(() => {
        refused++;
      });
      sent++;
      inFlight.add(posted);
      void posted.finally(() => inFlight.delete(posted));
    }
    await Promise.all(inFlight);
    samples.push({ atS: (Date.now() - t0) / 1000, rssMb: rssMb(start.pid), depth: await depth() });
    await sleep(2000);
    const [{ failed }] = await stack.sql<{ failed: number }[]>`select count(*)::int as failed from deliveries where status = 'failed'`;
    await start.stop();

    const afterMinute = samples.find((s) => s.atS >= 60) ?? samples[0];
    const end = samples.at(-1)!;
    const notes = [
      `soak run ${options.run}: ${sent} changes at ${rate}/s over ${options.durationS} s; ${refused} requests refused, ${failed} deliveries failed; ` +
        `samples (s: RSS MB / queue depth): ${samples.map((s) => `${Math.round(s.atS)}: ${s.rssMb?.toFixed(0)}/${s.depth}`).join(', ')}`,
    ];
    return {
      notes,
      figures: [
        figure({
          id: 'soak.rss.end',
          section: SECTION,
          label: `RSS of \`trackline start\` at the end of ${options.durationS} s at ${rate} changes/s`,
          unit: 'MB',
          value: end.rssMb ?? Number.NaN,
          reference: { label: 'its RSS after the first minute', unit: 'MB', value: afterMinute.rssMb ?? Number.NaN },
          goal: { on: 'ratio', op: '<', target: 1.1, source: SOURCE },
        }),
        figure({
          id: 'soak.errors',
          section: SECTION,
          label: 'Requests refused plus deliveries failed during the soak',
          unit: 'errors',
          value: refused + failed,
          reference: { label: 'changes sent', unit: 'changes', value: sent },
          goal: { on: 'value', op: '<=', target: 0, source: SOURCE, everyRun: true },
        }),
        figure({
          id: 'soak.queue.end',
          section: SECTION,
          label: 'Reconcile queue depth at the end of the soak',
          unit: 'jobs',
          value: end.depth,
          reference: { label: 'changes per second sent', unit: 'changes/s', value: rate },
          goal: { on: 'ratio', op: '<=', target: 1, source: SOURCE },
        }),
      ],
    };
  } finally {
    watch.close();
    await queues.close();
    await queues.backend.close();
    await stack.close();
  }
}
