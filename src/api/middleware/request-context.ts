import { randomUUID } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import type { Logger } from 'pino';
import type { AppEnv, ApiServices } from '../context.ts';
import { requestHeader } from './request-headers.ts';

/** The request id header: taken from the caller when it is a sane token, else a new uuid. */
export const REQUEST_ID_HEADER = 'x-request-id';
const MAX_REQUEST_ID_LENGTH = 128;
const UNSAFE_REQUEST_ID = /[^\w\-=]/;

/**
 * Paths polled every few seconds (probes, scrapes, an open Bull Board refreshing itself): logged
 * at debug so they do not drown the rest.
 */
const QUIET = new Set(['/healthz', '/readyz', '/metrics']);
const quiet = (path: string) => QUIET.has(path) || path.startsWith('/admin/queues');

/**
 * The first middleware of every request: its request id, the services, and the access line.
 *
 * - The request id is the caller's `x-request-id` when it is at most 128 word characters, `-` or
 *   `=` (what hono's requestId middleware accepts), else a new uuid; it is echoed in the answer.
 *   Done here rather than with hono's requestId because that one reads the header through the
 *   fetch `Headers` object, which node-server then builds for every request (see
 *   request-headers.ts), and because one middleware instead of three is one async frame per
 *   request instead of three on the intake's hot path.
 * - One access line per request with its request id: the first line of the trail that the job
 *   and tracker-call lines continue (`grep <request id>`). Method, path and status only: headers,
 *   query strings and bodies can hold tokens and are never logged here.
 */
export function requestContext(services: ApiServices) {
  const log = withoutRedaction(services.log);
  return createMiddleware<AppEnv>(async function requestContextMiddleware(c, next) {
    const started = performance.now();
    let id = requestHeader(c, REQUEST_ID_HEADER);
    if (!id || id.length > MAX_REQUEST_ID_LENGTH || UNSAFE_REQUEST_ID.test(id)) id = randomUUID();
    c.set('requestId', id);
    c.set('services', services);
    c.header(REQUEST_ID_HEADER, id);
    await next();
    const path = c.req.path;
    const level = quiet(path) ? 'debug' : 'info';
    if (!log.isLevelEnabled(level)) return;
    log[level](
      { requestId: id, method: c.req.method, path, status: c.res.status, durationMs: Math.round(performance.now() - started) },
      'request',
    );
  });
}

/**
 * The access line carries only the fields above, none of which can hold a credential (the request
 * id is checked above, and the path has no query string), so it skips the logger's credential
 * redaction: that walk cost about 11 of the 15 µs each line took, on every request.
 */
function withoutRedaction(log: Logger): Logger {
  return log.child({}, { redact: { paths: [] }, formatters: { log: (object: Record<string, unknown>) => object } } as never);
}
