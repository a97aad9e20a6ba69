import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { WebhookBatcher } from '../../src/intake/webhook-batcher.ts';
import { sweepOutbox } from '../../src/jobs/outbox-sweep.ts';

/**
 * One intake commit's webhooks travel as one inbound job (bench/intake.ts: a job per delivery
 * halved the intake's throughput). These tests hold that batching to the per-delivery promises:
 * each delivery is handled on its own, a failing one retries alone, and the sweep neither loses
 * a batch's deliveries nor runs them twice while their job is queued.
 */

const SECRET = 'plane_wh_inbound_batch_0123456789';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('inbound_batch', { plane: { webhook_secret: SECRET, import_labels: ['plan'] }, workers: false });
});
afterAll(async () => h?.close());

const plane = () => h.sandbox.plane;
const planLabel = () =>
  plane()
    .labelsOf(h.project.projectId)
    .find((l) => l.name === 'plan')?.id ?? plane().createLabel(h.project.projectId, { name: 'plan' }, { kind: 'person' } as never).id;

/** A Plane v1 "issue created" webhook for a person's new issue labelled for import. */
function personIssue(name: string) {
  const issue = plane().createAsPerson(h.project.projectId, { name, labels: [planLabel()] });
  return {
    issue,
    record: {
      connectionId: 'plane-main',
      dedupKey: `batch-${issue.id}`,
      eventName: 'issue.created',
      headers: { 'x-plane-event': 'issue' },
      payloadJson: JSON.stringify({ event: 'issue', action: 'created', webhook_id: 'w', workspace_id: 'ws', data: { id: issue.id, name } }),
    },
  };
}

/** The deliveries' rows in the order of `ids` (one commit's rows share their created_at). */
async function deliveryRows(ids: string[]) {
  const rows = await h.sql<
    { id: string; status: string; job_id: string | null; last_error: string | null }[]
  >`select id, status, job_id, last_error from deliveries where id in ${h.sql(ids)}`;
  return ids.map((id) => rows.find((r) => r.id === id)!);
}

describe('inbound batches', () => {
  it('a commit of several webhooks is one job; each delivery is handled, and one that fails transiently retries in a job of its own', async () => {
    const batcher = new WebhookBatcher(h.sql, h.runtime.queues, h.runtime.log);
    const made = ['Batch one', 'Batch two', 'Batch three'].map(personIssue);
    // The import of the second issue reads it from Plane: that read fails once with a 500.
    h.sandbox.faults.inject({ tracker: 'plane', method: 'GET', pathIncludes: made[1].issue.id, status: 500, times: 1 });
    const accepted = await Promise.all(made.map((m) => batcher.accept(m.record)));
    await batcher.drained();
    const ids = accepted.map((a) => a.deliveryId!);
    const rows = await deliveryRows(ids);
    expect(new Set(rows.map((r) => r.job_id)).size).toBe(1);
    const batchJob = await h.runtime.queues.inbound.getJob(rows[0].job_id!);
    expect(batchJob?.data).toEqual({ deliveries: ids.map((deliveryId) => ({ deliveryId, connectionId: 'plane-main' })) });

    await h.startWorkers();
    try {
      await waitFor(async () => (await deliveryRows(ids)).every((r) => r.status === 'processed'), 10_000);
      // The batch finished with two processed and one handed on; the handed-on delivery's own job did the import.
      const finished = await h.runtime.queues.inbound.getJob(rows[0].job_id!);
      expect(finished?.returnvalue).toEqual({ processed: 2, skipped: 0, failed: 0, retrying: 1 });
      const after = await deliveryRows(ids);
      expect(after[1].job_id).toBe(`in-${ids[1]}`);
      expect(after[0].job_id).toBe(rows[0].job_id);
      const retryJob = await h.runtime.queues.inbound.getJob(`in-${ids[1]}`);
      expect(await retryJob?.getState()).toBe('completed');
      // Each issue imported exactly once.
      const mapped = await h.sql<
        { remote_id: string }[]
      >`select remote_id from mappings where remote_id in ${h.sql(made.map((m) => m.issue.id))}`;
      expect(mapped.map((m) => m.remote_id).sort()).toEqual(made.map((m) => m.issue.id).sort());
    } finally {
      await h.workers!.close();
      h.workers = undefined;
    }
  });

  it('the sweep leaves deliveries of a queued batch job alone, and re-enqueues those whose job is gone', async () => {
    const batcher = new WebhookBatcher(h.sql, h.runtime.queues, h.runtime.log);
    const made = ['Sweep one', 'Sweep two'].map(personIssue);
    // The first came with a request id: the job the sweep gives it carries it on (the work it starts still names that request).
    const accepted = await Promise.all(
      made.map((m, i) => batcher.accept(i === 0 ? { ...m.record, requestId: 'req-swept-0001' } : m.record)),
    );
    await batcher.drained();
    const ids = accepted.map((a) => a.deliveryId!);
    const [{ job_id: batchJobId }] = await deliveryRows(ids);
    // Past the grace period, with the batch job still waiting (no workers run): nothing to sweep.
    await h.sql`update deliveries set created_at = now() - interval '1 minute' where id in ${h.sql(ids)}`;
    await sweepOutbox(h.sql, h.runtime.queues, { callbacks: false });
    for (const id of ids) expect(await h.runtime.queues.inbound.getJob(`in-${id}`)).toBeUndefined();
    // The job is lost (as with a Redis restart): the sweep gives each delivery a job of its own.
    await (await h.runtime.queues.inbound.getJob(batchJobId!))!.remove();
    await sweepOutbox(h.sql, h.runtime.queues, { callbacks: false });
    expect((await h.runtime.queues.inbound.getJob(`in-${ids[0]}`))?.data).toEqual({
      deliveryId: ids[0],
      connectionId: 'plane-main',
      requestId: 'req-swept-0001',
    });
    expect((await h.runtime.queues.inbound.getJob(`in-${ids[1]}`))?.data).toEqual({ deliveryId: ids[1], connectionId: 'plane-main' });
  });
});
