import { createRuntime, type Runtime } from '../runtime.ts';
import { startServer, type RunningServer } from '../api/serve.ts';
import type { RunningWorkers } from '../jobs/worker.ts';
import { UsageError } from './errors.ts';
import { metricsTokens } from '../config/api-tokens.ts';
import { startMetricsServer, type RunningMetricsServer } from '../api/metrics-server.ts';
import type { LocalServers } from './local-servers.ts';

/** start | api | worker: run until SIGTERM/SIGINT, then stop taking work, finish, and close. */
export async function runServe(role: 'all' | 'api' | 'worker', values: Record<string, string | boolean | undefined>): Promise<number> {
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
    throw new UsageError(`--port must be 0-65535, got "${values.port}"`);
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1))
    throw new UsageError('--concurrency must be a positive whole number');

  // --embedded (start only): private servers when the machine has none, for trying Trackline out;
  // asked for by name, and refused in production, so a missing database there stays an error.
  let local: LocalServers | undefined;
  if (values.embedded) {
    if (process.env.NODE_ENV === 'production')
      throw new UsageError('--embedded is for trying Trackline out, not for NODE_ENV=production: set DATABASE_URL and REDIS_URL');
    if (process.env.DATABASE_URL)
      throw new UsageError('--embedded starts a private PostgreSQL, but DATABASE_URL names a server: use one or the other');
    // Imported only for --embedded: the embedded PostgreSQL and Redis helpers stay out of a served role.
    local = await (await import('./local-servers.ts')).startLocalServers(process.env);
    for (const note of local.notes) console.error(`trackline start: ${note}`);
  }
  let runtime: Runtime;
  try {
    runtime = await createRuntime({ role, env: local ? { ...process.env, ...local.env } : undefined });
  } catch (error) {
    await local?.stop();
    throw error;
  }
  const { log } = runtime;
  let server: RunningServer | undefined;
  let workers: RunningWorkers | undefined;
  let metricsServer: RunningMetricsServer | undefined;
  try {
    // Imported here, not at the top: `trackline api` never loads the job processors, the sync engine
    // or the tracker adapters (issue 17, section 4: the api's resident memory).
    if (role !== 'api') workers = await (await import('../jobs/worker.ts')).startWorkers(runtime, { concurrency });
    if (role !== 'worker') server = await startServer(runtime, port ?? runtime.env.PORT, runtime.env.HOST);
    // A worker alone has no api to answer /metrics; its counters are in its own memory.
    else if (runtime.env.METRICS_PORT !== undefined)
      metricsServer = await startMetricsServer(runtime.metrics, {
        port: runtime.env.METRICS_PORT,
        host: runtime.env.HOST,
        tokens: metricsTokens(runtime.config),
      });
  } catch (error) {
    await workers?.close();
    await metricsServer?.close();
    await runtime.close();
    await local?.stop();
    throw error;
  }
  log.info({ role, url: server?.url, connections: runtime.connections.all().map((c) => c.config.id) }, 'trackline started');
  if (metricsServer) console.error(`trackline worker: metrics on ${metricsServer.url}/metrics`);
  if (server) console.error(`trackline ${role === 'all' ? 'start' : role}: listening on ${server.url}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping: finishing running jobs');
    // The order matters: stop taking requests, let running jobs finish, then close Redis and Postgres.
    await server?.close();
    await workers?.close();
    await metricsServer?.close();
    await runtime.close();
    await local?.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return -1;
}
