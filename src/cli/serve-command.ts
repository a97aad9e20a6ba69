import { createRuntime, type Runtime } from '../runtime.ts';
import { startServer, type RunningServer } from '../api/serve.ts';
import { startWorkers, type RunningWorkers } from '../jobs/worker.ts';
import { UsageError } from './errors.ts';
import { metricsTokens } from '../config/api-tokens.ts';
import { startMetricsServer, type RunningMetricsServer } from '../api/metrics-server.ts';

/** start | api | worker: run until SIGTERM/SIGINT, then stop taking work, finish, and close. */
export async function runServe(role: 'all' | 'api' | 'worker', values: Record<string, string | boolean | undefined>): Promise<number> {
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
    throw new UsageError(`--port must be 0-65535, got "${values.port}"`);
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1))
    throw new UsageError('--concurrency must be a positive whole number');

  const runtime: Runtime = await createRuntime({ role });
  const { log } = runtime;
  let server: RunningServer | undefined;
  let workers: RunningWorkers | undefined;
  let metricsServer: RunningMetricsServer | undefined;
  try {
    if (role !== 'api') workers = await startWorkers(runtime, { concurrency });
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
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return -1;
}
