import { Hono } from 'hono';
import type { ApiServices, AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { parseJsonText, readRawBody } from '../middleware/raw-body.ts';
import { requestHeaders } from '../middleware/request-headers.ts';
import { recordRejectedWebhook, redactHeaders } from '../../intake/record-webhook.ts';
import { WebhookBatcher } from '../../intake/webhook-batcher.ts';
import { createWebhookHandler } from '../../trackers/index.ts';
import type { WebhookHandler } from '../../sync/port/tracker.ts';

/**
 * POST /webhooks/{connectionId}: verify the signature over the raw bytes, then parse, then record
 * durably (deduplicated on the sender's stable id), enqueue, and answer 202. The tracker is never
 * called here: the inbound job does that.
 */
export function webhookRoutes(connectionIds: string[], handlerFor: (id: string) => WebhookHandler | undefined) {
  const known = new Set(connectionIds);
  // Concurrent deliveries share one commit and one enqueue (group commit); each is answered only
  // after its own row is committed.
  let batcher: WebhookBatcher | undefined;
  return new Hono<AppEnv>().post('/:connectionId', async (c) => {
    const services = c.get('services');
    const connectionId = c.req.param('connectionId');
    if (!known.has(connectionId)) throw new ApiError('not_found', `no connection "${connectionId}"`);
    const handler = handlerFor(connectionId)!;
    const headers = requestHeaders(c);
    const requestId = c.get('requestId');

    let raw: Buffer;
    try {
      raw = await readRawBody(c.req.raw);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'payload_too_large')
        await reject(services, { connectionId, headers, requestId, status: 413, reason: error.message });
      throw error;
    }
    const verdict = handler.verify(headers, raw);
    if (!verdict.ok) {
      await reject(services, { connectionId, headers, requestId, status: 401, reason: verdict.reason });
      throw new ApiError('unauthorized', `webhook signature check failed: ${verdict.reason}`);
    }
    let payload: unknown;
    let payloadJson: string;
    try {
      ({ value: payload, text: payloadJson } = parseJsonText(raw));
    } catch (error) {
      await reject(services, { connectionId, headers, requestId, status: 400, reason: 'signed body is not valid JSON' });
      throw error;
    }
    const shape = handler.check?.(headers, payload) ?? { ok: true };
    if (!shape.ok) {
      await reject(services, { connectionId, headers, requestId, status: 400, reason: shape.reason });
      throw new ApiError('invalid_request', `webhook refused: ${shape.reason}`);
    }
    batcher ??= new WebhookBatcher(services.sql, services.queues, services.log);
    const accepted = await batcher.accept({
      connectionId,
      dedupKey: handler.dedupKey(headers, payload, raw),
      eventName: handler.eventName(headers, payload),
      headers: redactHeaders(headers),
      payloadJson,
      requestId,
    });
    if (accepted.duplicate) return c.json({ status: 'duplicate' }, 200);
    return c.json({ status: 'accepted', delivery: accepted.deliveryId }, 202);
  });
}

/** A refused delivery is recorded (with its headers redacted) and logged before the error answer. */
async function reject(
  { sql, log }: ApiServices,
  r: { connectionId: string; headers: Record<string, string>; requestId: string; status: 401 | 400 | 413; reason: string },
): Promise<void> {
  await recordRejectedWebhook(sql, {
    connectionId: r.connectionId,
    reason: r.reason,
    status: r.status,
    headers: redactHeaders(r.headers),
    requestId: r.requestId,
  });
  log.warn({ connection: r.connectionId, reason: r.reason, requestId: r.requestId }, 'webhook rejected');
}

export function buildWebhookHandlers(connections: { config: Parameters<typeof createWebhookHandler>[0] }[]): Map<string, WebhookHandler> {
  return new Map(connections.map((c) => [c.config.id, createWebhookHandler(c.config)]));
}
