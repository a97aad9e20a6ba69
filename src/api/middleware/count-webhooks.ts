import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context.ts';
import type { Metrics, WebhookOutcome } from '../../metrics/metrics.ts';

/**
 * Counts each webhook answer by connection and outcome, read from the status the webhook route
 * answered (202 accepted, 200 duplicate, 4xx rejected; DESIGN 4.3). Counting around the route
 * rather than inside it keeps the intake path free of metrics code; a thrown ApiError has already
 * been rendered by onError when `next()` returns, so its status is there too.
 * Unknown connection ids are counted as "unknown": a label per path a stranger tries would let
 * anyone grow the series without bound.
 */
export function countWebhooks(metrics: Metrics, connectionIds: string[]) {
  const known = new Set(connectionIds);
  return createMiddleware<AppEnv>(async function countWebhooksMiddleware(c, next) {
    await next();
    if (c.req.method !== 'POST') return;
    const id = c.req.param('connectionId');
    metrics.recordWebhook(id && known.has(id) ? id : 'unknown', outcomeOf(c.res.status));
  });
}

function outcomeOf(status: number): WebhookOutcome {
  if (status === 202) return 'accepted';
  if (status === 200) return 'duplicate';
  if (status >= 400 && status < 500) return 'rejected';
  return 'error';
}
