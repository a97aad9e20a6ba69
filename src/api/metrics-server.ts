import { Hono } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import type { AppEnv } from './context.ts';
import { ApiError, statusFor } from './errors.ts';
import { metricsRoutes } from './routes/metrics.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { ApiToken } from '../config/api-tokens.ts';

export interface RunningMetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * /metrics (and /healthz) for a process that runs no api: `trackline worker`. Its job and
 * tracker-call counters live in its own memory, so Prometheus has to scrape it directly. Only
 * these two routes: a worker never serves the api.
 */
export async function startMetricsServer(
  metrics: Metrics,
  options: { port: number; host: string; tokens?: readonly ApiToken[] | null },
): Promise<RunningMetricsServer> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.route('/metrics', metricsRoutes(metrics, { tokens: options.tokens }));
  const render = (c: { json: (body: unknown, status: number, headers?: Record<string, string>) => Response }, error: ApiError) =>
    c.json({ error: { code: error.code, message: error.message, requestId: null } }, statusFor(error.code), error.headers);
  app.notFound((c) => render(c, new ApiError('not_found', 'this is a worker: it serves only /metrics and /healthz')));
  app.onError((error, c) => render(c, error instanceof ApiError ? error : new ApiError('internal', 'could not collect metrics')));

  return new Promise((resolve, reject) => {
    const server: ServerType = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, (info) => {
      const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
      resolve({
        url: `http://${shownHost}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.once('error', reject);
  });
}
