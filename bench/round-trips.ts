import { BACKEND_NAME } from './backends.ts';
import { sleep } from './progress.ts';
import type { Stack } from './stack.ts';
import { percentile } from './stats.ts';

/**
 * What one round trip to the stack's Postgres and queue store costs on this machine, after a quiet
 * moment and back to back. A change at a moderate rate makes a dozen of them one after another
 * (the intake's transaction, the enqueue, the worker's pick-up, the delivery row, the write-ahead
 * intent, the pause check), and at that rate the processes it talks to have mostly gone to sleep
 * in between: the cost after a quiet moment is what such a change pays per step.
 */
export async function measureRoundTrips(stack: Stack, samples = 20): Promise<string> {
  const probes = [
    { name: 'Postgres `select 1`', run: () => stack.sql`select 1`.then(() => undefined) },
    { name: `${BACKEND_NAME[stack.queueBackend]} queue ping`, run: () => stack.queues.backend.ping() },
  ];
  const parts: string[] = [];
  for (const probe of probes) {
    await probe.run();
    const quiet: number[] = [];
    const busy: number[] = [];
    for (let i = 0; i < samples; i++) {
      await sleep(200);
      let t = performance.now();
      await probe.run();
      quiet.push(performance.now() - t);
      t = performance.now();
      await probe.run();
      busy.push(performance.now() - t);
    }
    parts.push(
      `${probe.name} p50 ${percentile(quiet, 50).toFixed(2)} ms after 200 ms of quiet, ${percentile(busy, 50).toFixed(2)} ms right after another`,
    );
  }
  return `round trips on this machine: ${parts.join('; ')}`;
}
