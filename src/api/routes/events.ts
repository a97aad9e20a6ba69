import { hash } from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { parseJson, readRawBody } from '../middleware/raw-body.ts';
import { requestHeader } from '../middleware/request-headers.ts';
import { validate } from '../validation.ts';
import { requireScope } from '../middleware/require-scope.ts';
import { allowedConnections, mayTouch } from '../connection-access.ts';
import type { OrchestratorEvent } from '../../intake/event-schema.ts';
import { EventsBody } from '../../intake/event-schema.ts';
import { EventRejectedError, checkLinks } from '../../intake/record-events.ts';
import { EventBatcher } from '../../intake/event-batcher.ts';
import { eventKey } from '../../intake/event-schema.ts';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** application/json or a +json type, with parameters (charset) allowed. */
const JSON_MEDIA_TYPE = /^\s*application\/([\w.-]+\+)?json\s*(;.*)?$/i;

/**
 * POST /v1/events: validate, commit durably, enqueue, answer 202. An `Idempotency-Key` makes a
 * retried request return the first answer (and a different body under the same key is refused).
 * Concurrent requests share one transaction (EventBatcher: group commit); each is answered only
 * after its own events are committed.
 */
export function eventsRoutes() {
  // One batcher per app, made on the first request (the services arrive with it).
  let batcher: EventBatcher | undefined;
  return new Hono<AppEnv>().post('/', requireScope('events:write'), async (c) => {
    const { sql, connections, queues, log } = c.get('services');
    // The contract takes application/json. A body declared as something else (a form, text) is
    // refused, not guessed at; a request with no Content-Type at all is still read as JSON.
    const type = requestHeader(c, 'content-type');
    if (type !== undefined && !JSON_MEDIA_TYPE.test(type)) {
      throw new ApiError('unsupported_media_type', `Content-Type must be application/json, not "${type.slice(0, 100)}"`);
    }
    const raw = await readRawBody(c.req.raw);
    const body = validate(EventsBody, parseJson(raw));
    const events = 'events' in body ? body.events : [body];
    const idempotencyKey = requestHeader(c, 'idempotency-key');
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ApiError('invalid_request', 'Idempotency-Key: 1 to 255 printable ASCII characters');
    }
    try {
      checkLinks(events, connections);
    } catch (error) {
      if (error instanceof EventRejectedError) throw new ApiError('invalid_request', `${error.path}: ${error.message}`);
      throw error;
    }
    await checkConnectionLimit(c, events);

    batcher ??= new EventBatcher(sql, connections, queues, log);
    const outcome = await batcher.accept({
      events,
      requestId: c.get('requestId'),
      request: { events: events.length, keys: [...new Set(events.map(eventKey))].slice(0, 50), idempotencyKey: idempotencyKey ?? null },
      // The body's hash only matters (and is only computed) under an Idempotency-Key.
      idempotency: idempotencyKey ? { principal: c.get('principal'), key: idempotencyKey, requestHash: hash('sha256', raw) } : undefined,
    });
    if (outcome.kind === 'key_reused')
      throw new ApiError('idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
    if (outcome.kind === 'replay') {
      c.header('idempotent-replayed', 'true');
      return c.json(outcome.response as object, outcome.status as 202);
    }
    return c.json({ events: outcome.accepted }, 202);
  });
}

/**
 * A connection-limited token writes only items its connections alone carry: an event whose item
 * another connection would push (by the event's kind, else the stored one) or that links another
 * connection's issue is refused (403 naming both), before anything is written.
 */
async function checkConnectionLimit(c: Context<AppEnv>, events: OrchestratorEvent[]): Promise<void> {
  if (!allowedConnections(c)) return;
  const { sql, connections } = c.get('services');
  const keys = [...new Set(events.map(eventKey))];
  const stored = new Map(
    (await sql<{ key: string; kind: string | null }[]>`select key, kind from items where key in ${sql(keys)}`).map((r) => [r.key, r.kind]),
  );
  for (const [i, event] of events.entries()) {
    const key = eventKey(event);
    const kind = event.type === 'item.upserted' && event.item.kind !== undefined ? event.item.kind : (stored.get(key) ?? null);
    const touched = connections
      .carrying(kind)
      .filter((x) => x.config.direction !== 'pull')
      .map((x) => x.config.id);
    if (event.type === 'item.upserted') touched.push(...Object.keys(event.item.links ?? {}));
    const other = touched.find((id) => !mayTouch(c, id));
    if (other) {
      throw new ApiError(
        'forbidden',
        `events[${i}]: item "${key}" is carried by connection "${other}", which this token may not touch (it is limited to ${allowedConnections(c)!.join(', ')})`,
      );
    }
  }
}
