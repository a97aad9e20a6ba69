import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_AVAILABLE, startHarness, waitFor, type Harness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  // Redis itself is what this is about, whatever backend the rest of the run uses.
  if (REDIS_AVAILABLE) h = await startHarness('redis_reconnect', { plane: { poll_interval: '1m' }, queueBackend: 'redis' });
});
afterAll(async () => h?.close());

/**
 * Found by the fault suite (test/faults/outages.test.ts): Redis restarted without persistence
 * comes back empty, and with it went the job schedulers that run the outbox sweep and polling.
 * Events accepted while Redis was away (committed, never enqueued) then waited forever. Workers
 * now put the schedulers back, and sweep, whenever their Redis connection is ready again.
 */
describe.skipIf(!REDIS_AVAILABLE)('Redis coming back empty', () => {
  it('gets the sweep and poll schedulers back, and work committed meanwhile is synced', async () => {
    const { queues } = h.runtime;
    // What an empty Redis looks like to the workers: no schedulers.
    await queues.maintenance.removeJobScheduler('outbox-sweep');
    await queues.poll.removeJobScheduler('poll:plane-main');
    expect(await queues.maintenance.getJobSchedulers()).toEqual([]);
    // Work committed while the queue was unreachable: the item and its mapping, but no job.
    await h.sql`insert into items (key, desired, version, updated_at) values ('rr/1', '{"title":"while away"}', 1, now() - interval '1 minute')`;
    await h.sql`insert into mappings (item_key, connection_id) values ('rr/1', 'plane-main')`;

    h.runtime.producerRedis!.disconnect(true);
    const schedulers = await waitFor(async () => {
      const found = [...(await queues.maintenance.getJobSchedulers()), ...(await queues.poll.getJobSchedulers())].map((s) => s.key);
      return found.length === 2 ? found.sort() : null;
    }, 10_000);
    expect(schedulers).toEqual(['outbox-sweep', 'poll:plane-main']);
    await waitFor(
      () => h.sandbox.plane.issuesOf(h.project.projectId).some((i) => i.external_id === 'rr/1' && i.name === 'while away'),
      10_000,
    );
  });
});
