import { connectQueueBackend } from '../src/queues/connect-queue-backend.ts';
import { QUEUE } from '../src/queues/names.ts';
import type { QueueBackendKind } from '../src/queues/queue-backend.ts';

/**
 * The sync benchmark's reference: a BullMQ Worker on the same queue name, job options and
 * connection settings as Trackline's reconcile worker, built through the same queue backend (Redis
 * or PostgreSQL), whose processor returns at once. It runs in its own process like `trackline
 * start`, so the ratio to it is what Trackline's reconcile costs on top of BullMQ itself on that
 * backend. For each phase (a count of jobs) it prints one NOOP_RESULT line: when the first job
 * started and the last finished, and the p50/p99 of add-to-start latency.
 *
 * Usage: node --import tsx bench/noop-worker.ts <redis|postgres> <concurrency> <count,count,...>
 * (DATABASE_URL, REDIS_URL and TRACKLINE_REDIS_PREFIX from the environment, as Trackline reads them).
 */
const [kind, concurrencyArg, phasesArg] = process.argv.slice(2);
const phases = phasesArg.split(',').map(Number);
const backend = await connectQueueBackend(kind as QueueBackendKind, {
  databaseUrl: process.env.DATABASE_URL ?? '',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  redisPrefix: process.env.TRACKLINE_REDIS_PREFIX ?? '',
  workers: true,
  // The bench made the schema before starting this process, as `trackline migrate` would.
  migrate: false,
});

let phase = 0;
let done = 0;
let firstStart = 0;
let lastEnd = 0;
let latencies: number[] = [];
const worker = backend.worker(
  QUEUE.reconcile,
  async (job) => {
    const now = Date.now();
    if (done === 0 && firstStart === 0) firstStart = now;
    // job.timestamp is set by the producer when it adds the job: add-to-start latency.
    latencies.push(now - job.timestamp);
  },
  { concurrency: Number(concurrencyArg) },
);
worker.on('completed', () => {
  done++;
  lastEnd = Date.now();
  if (done < phases[phase]) return;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil((p / 100) * latencies.length) - 1))];
  console.log(`NOOP_RESULT ${JSON.stringify({ phase, count: done, firstStart, lastEnd, p50: at(50), p99: at(99) })}`);
  phase++;
  done = 0;
  firstStart = 0;
  latencies = [];
});
await worker.waitUntilReady();
console.log('NOOP_READY');
const stop = async () => {
  await worker.close();
  await backend.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
