import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { parseJson, readRawBody } from '../middleware/raw-body.ts';
import { validate } from '../validation.ts';
import { EventsBody } from '../../intake/event-schema.ts';
import { EventRejectedError, recordEvents, type RecordedEvents } from '../../intake/record-events.ts';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** application/json or a +json type, with parameters (charset) allowed. */
const JSON_MEDIA_TYPE = /^\s*application\/([\w.-]+\+)?json\s*(;.*)?$/i;

/**
 * POST /v1/events: validate, commit durably, enqueue, answer 202. An `Idempotency-Key` makes a
 * retried request return the first answer (and a different body under the same key is refused).
 */
export const eventsRoutes = new Hono<AppEnv>().post('/', async (c) => {
  const { sql, connections, queues, log } = c.var.services;
  // The contract takes application/json. A body declared as something else (a form, text) is
  // refused, not guessed at; a request with no Content-Type at all is still read as JSON.
  const type = c.req.header('content-type');
  if (type !== undefined && !JSON_MEDIA_TYPE.test(type)) {
    throw new ApiError('unsupported_media_type', `Content-Type must be application/json, not "${type.slice(0, 100)}"`);
  }
  const raw = await readRawBody(c.req.raw);
  const body = validate(EventsBody, parseJson(raw));
  const events = 'events' in body ? body.events : [body];
  const idempotencyKey = c.req.header('idempotency-key');
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw new ApiError('invalid_request', 'Idempotency-Key: 1 to 255 printable ASCII characters');
  }
  const requestHash = createHash('sha256').update(raw).digest('hex');
  const principal = c.var.principal;

  let recorded: RecordedEvents | null = null;
  let replay: { status: number; response: unknown } | null = null;
  try {
    await sql.begin(async (tx) => {
      if (idempotencyKey) {
        // The key row is taken first: a concurrent retry with the same key waits on it here and
        // then replays this request's answer instead of recording the events twice.
        const claimed = await tx`insert into idempotency_keys (principal, key, request_hash, status, response)
          values (${principal}, ${idempotencyKey}, ${requestHash}, 0, '{}'::jsonb) on conflict do nothing returning key`;
        if (claimed.length === 0) {
          const [prior] = await tx<{ request_hash: string; status: number; response: unknown }[]>`
            select request_hash, status, response from idempotency_keys where principal = ${principal} and key = ${idempotencyKey}`;
          if (prior.request_hash !== requestHash) {
            throw new ApiError('idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
          }
          replay = { status: prior.status, response: prior.response };
          return;
        }
      }
      recorded = await recordEvents(tx as never, events, {
        connections,
        requestId: c.var.requestId,
        request: { events: events.length, keys: [...new Set(events.map((e) => ('item' in e && e.item ? e.item.key : (e as { key?: string }).key)))].slice(0, 50), idempotencyKey: idempotencyKey ?? null },
      });
      if (idempotencyKey) {
        await tx`update idempotency_keys set status = 202, response = ${tx.json({ events: recorded.accepted } as never)}
          where principal = ${principal} and key = ${idempotencyKey}`;
      }
    });
  } catch (error) {
    if (error instanceof EventRejectedError) throw new ApiError('invalid_request', `${error.path}: ${error.message}`);
    throw error;
  }
  if (replay) {
    const { status, response } = replay as { status: number; response: unknown };
    c.header('idempotent-replayed', 'true');
    return c.json(response as object, status as 202);
  }
  const done = recorded as unknown as RecordedEvents;
  try {
    await queues.enqueueReconcile(done.reconciles);
  } catch (error) {
    // Committed already: the outbox sweep enqueues it once Redis answers again. Still accepted.
    log.warn({ err: (error as Error).message, requestId: c.var.requestId }, 'enqueue failed after commit; the outbox sweep will pick it up');
  }
  return c.json({ events: done.accepted }, 202);
});
