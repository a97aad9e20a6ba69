import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { parseJsonText, readRawBody } from '../middleware/raw-body.ts';
import { requestHeaders } from '../middleware/request-headers.ts';
import { recordRejectedWebhook, redactHeaders } from '../../intake/record-webhook.ts';
import { WebhookBatcher } from '../../intake/webhook-batcher.ts';
import { createWebhookHandler } from '../../trackers/index.ts';
import type { WebhookHandler } from '../../trackers/types.ts';

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
    const { sql, queues, log } = c.var.services;
    const connectionId = c.req.param('connectionId');
    if (!known.has(connectionId)) throw new ApiError('not_found', `no connection "${connectionId}"`);
    const handler = handlerFor(connectionId)!;
    const headers = requestHeaders(c);
    const reject = async (status: 401 | 400 | 413, reason: string) => {
      await recordRejectedWebhook(sql, { connectionId, reason, status, headers: redactHeaders(headers), requestId: c.var.requestId });
      log.warn({ connection: connectionId, reason, requestId: c.var.requestId }, 'webhook rejected');
    };

    let raw: Buffer;
    try {
      raw = await readRawBody(c.req.raw);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'payload_too_large') await reject(413, error.message);
      throw error;
    }
    const verdict = handler.verify(headers, raw);
    if (!verdict.ok) {
      await reject(401, verdict.reason);
      throw new ApiError('unauthorized', `webhook signature check failed: ${verdict.reason}`);
    }
    let payload: unknown;
    let payloadJson: string;
    try {
      ({ value: payload, text: payloadJson } = parseJsonText(raw));
    } catch (error) {
      await reject(400, 'signed body is not valid JSON');
      throw error;
    }
    batcher ??= new WebhookBatcher(sql, queues, log);
    const accepted = await batcher.accept({
      connectionId,
      dedupKey: handler.dedupKey(headers, payload, raw),
      eventName: handler.eventName(headers, payload),
      headers: redactHeaders(headers),
      payloadJson,
      requestId: c.var.requestId,
    });
    if (accepted.duplicate) return c.json({ status: 'duplicate' }, 200);
    return c.json({ status: 'accepted', delivery: accepted.deliveryId }, 202);
  });
}

export function buildWebhookHandlers(connections: { config: Parameters<typeof createWebhookHandler>[0] }[]): Map<string, WebhookHandler> {
  return new Map(connections.map((c) => [c.config.id, createWebhookHandler(c.config)]));
}
