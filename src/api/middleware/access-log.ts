import { createMiddleware } from 'hono/factory';
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
  return createMiddleware<AppEnv>(async function accessLogMiddleware(c, next) {
    const started = performance.now();
    await next();
    const log = c.var.services?.log;
    if (!log) return;
    const level = quiet(c.req.path) ? 'debug' : 'info';
    if (!log.isLevelEnabled(level)) return;
    log[level](
      { requestId: c.var.requestId, method: c.req.method, path: c.req.path, status: c.res.status, durationMs: Math.round(performance.now() - started) },
      'request',
    );
  });
}
