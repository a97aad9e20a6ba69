import { serve, type ServerType } from '@hono/node-server';
import type { Runtime } from '../runtime.ts';
import { createApp } from './app.ts';

export interface RunningServer {
  url: string;
  server: ServerType;
  close(): Promise<void>;
}

export async function startServer(runtime: Runtime, port: number, host: string): Promise<RunningServer> {
  const app = createApp({
    sql: runtime.db.sql,
    config: runtime.config,
    connections: runtime.connections,
    queues: runtime.queues,
    log: runtime.log,
    metrics: runtime.metrics,
  });
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
      const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
      resolve({
        url: `http://${shownHost}:${info.port}`,
        server,
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
