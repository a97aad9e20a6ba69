import { Webhook } from 'standardwebhooks';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import type { Config } from '../config/schema.ts';
import type { Queues } from '../queues/queues.ts';
import { CallbackJob, type CallbackJobData } from '../queues/jobs.ts';
import { readChange, refuseChange } from '../sync/change-feed.ts';
import { finishDelivery, noteJobFailure, startJobDelivery } from './deliveries.ts';

export interface CallbackJobDeps {
  sql: Sql;
  orchestrator: Config['orchestrator'];
  queues: Queues;
  log: Logger;
  timeoutMs: number;
}

/**
 * Sends one change to the orchestrator's callback URL, signed per the Standard Webhooks spec
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`, via the `standardwebhooks` package).
 * 2xx: delivered. 409: the orchestrator's governance refuses the change (a manual conflict).
 * Anything else: retried with backoff; the feed at GET /v1/changes holds it meanwhile.
 */
export function createCallbackProcessor(deps: CallbackJobDeps) {
  const signer = deps.orchestrator ? new Webhook(deps.orchestrator.secret) : null;
  return async (job: Job<CallbackJobData>, token?: string): Promise<Record<string, unknown>> => {
    const { changeId } = CallbackJob.parse(job.data);
    if (!deps.orchestrator || !signer) return { skipped: 'no orchestrator.callback_url configured' };
    const change = await readChange(deps.sql, changeId);
    if (!change) return { skipped: `change ${changeId} not found` };
    if (change.notifiedAt) return { skipped: 'already delivered' };
    const { notifiedAt: _, ...entry } = change;
    const deliveryId = await startJobDelivery(deps.sql, job, 'callback', change.connection, change.key, {
      change: entry,
      url: deps.orchestrator.callback_url,
    });
    const body = JSON.stringify(entry);
    // The message id is stable per change, so the orchestrator can drop a retried duplicate.
    const msgId = `chg_${change.id}`;
    const at = new Date();
    const signature = signer.sign(msgId, at, body);
    let status: number | null = null;
    try {
      const res = await fetch(deps.orchestrator.callback_url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': msgId,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signature,
          'user-agent': 'Trackline',
        },
        body,
        signal: AbortSignal.timeout(deps.timeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (error) {
      const message = `callback to the orchestrator failed: ${(error as Error).name === 'TimeoutError' ? `no answer within ${deps.timeoutMs} ms` : (error as Error).message}`;
      return fail(message);
    }
    if (status >= 200 && status < 300) {
      await deps.sql`update changes set notified_at = now(), callback_status = 'delivered' where id = ${change.id}`;
      await finishDelivery(deps.sql, deliveryId, 'succeeded', { outcome: { status } });
      return { delivered: true, status };
    }
    if (status === 409) {
      const fields = await refuseChange(deps.sql, entry);
      await deps.sql`update changes set notified_at = now() where id = ${change.id}`;
      await finishDelivery(deps.sql, deliveryId, 'succeeded', { outcome: { status, refused: true, conflicts: fields } });
      // The item went back to its earlier value: re-reconcile the pair (held fields stay put).
      await deps.queues.enqueueReconcile([{ connectionId: change.connection, itemKey: change.key, reason: 'sync', readRemote: false }]);
      return { refused: true };
    }
    return fail(`the orchestrator answered ${status}`);

    async function fail(message: string): Promise<never> {
      const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (final) await deps.sql`update changes set callback_status = 'failed' where id = ${change!.id}`;
      await finishDelivery(deps.sql, deliveryId, final ? 'failed' : 'retrying', {
        error: message,
        outcome: status ? { status } : undefined,
      });
      await noteJobFailure(job, deliveryId, message);
      deps.log.warn({ change: change!.id, err: message, attempt: job.attemptsMade + 1 }, 'callback failed');
      void token;
      throw new Error(message);
    }
  };
}
