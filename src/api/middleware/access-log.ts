import { createMiddleware } from 'hono/factory';
import type { Logger } from 'pino';
import type { AppEnv } from '../context.ts';

/**
 * Paths polled every few seconds (probes, scrapes, an open Bull Board refreshing itself): logged
 * at debug so they do not drown the rest.
 */
const QUIET = new Set(['/healthz', '/readyz', '/metrics']);
const quiet = (path: string) => QUIET.has(path) || path.startsWith('/admin/queues');

/**
 * One line per request with its request id: the first line of the trail that the job and
 * tracker-call lines continue (`grep <request id>`). Method, path and status only: headers,
 * query strings and bodies can hold tokens and are never logged here.
 */
export function accessLog() {
  const plainLoggers = new WeakMap<Logger, Logger>();
  return createMiddleware<AppEnv>(async function accessLogMiddleware(c, next) {
    const started = performance.now();
    await next();
    const parent = c.var.services?.log;
    if (!parent) return;
    let log = plainLoggers.get(parent);
    if (!log) plainLoggers.set(parent, (log = withoutRedaction(parent)));
    const level = quiet(c.req.path) ? 'debug' : 'info';
    if (!log.isLevelEnabled(level)) return;
    log[level](
      { requestId: c.var.requestId, method: c.req.method, path: c.req.path, status: c.res.status, durationMs: Math.round(performance.now() - started) },
      'request',
    );
  });
}

/**
 * The access line carries only the fields above, none of which can hold a credential (the request
 * id is checked by hono's requestId, and the path has no query string), so it skips the logger's
 * credential redaction: that walk cost about 11 of the 15 µs each line took, on every request.
 */
function withoutRedaction(log: Logger): Logger {
  return log.child({}, { redact: { paths: [] }, formatters: { log: (object: Record<string, unknown>) => object } } as never);
}
