import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { ConfigSchema, type Config } from '../../src/config/schema.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { createApp } from '../../src/api/app.ts';
import { startWorkers, type RunningWorkers } from '../../src/jobs/worker.ts';
import { createSandbox } from '../../src/sandbox/server.ts';
import { createLogger } from '../../src/support/logger.ts';
import { serve } from '@hono/node-server';

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const API_TOKEN = 'test-token-0123456789';
export const PLANE_KEY = 'plane_api_test_key';

export type Sandbox = ReturnType<typeof createSandbox>;

export interface Harness {
  runtime: Runtime;
  app: ReturnType<typeof createApp>;
  sql: Runtime['db']['sql'];
  sandbox: Sandbox;
  sandboxUrl: string;
  project: ReturnType<Sandbox['plane']['seedProject']>;
  databaseUrl: string;
  redisPrefix: string;
  workers?: RunningWorkers;
  /** A request to the api through app.request(), with the test token unless headers say otherwise. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  postEvents(body: unknown, headers?: Record<string, string>): Promise<Response>;
  startWorkers(concurrency?: number): Promise<RunningWorkers>;
  /** Serves the api over HTTP (for webhooks the sandbox sends); answers its base URL. */
  listenApi(): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Extra keys for the Plane connection (maps, strategy...). */
  plane?: Record<string, unknown>;
  /** More config (worker tuning...). */
  config?: Record<string, unknown>;
  workers?: boolean;
  concurrency?: number;
}

/** A unique database and Redis key prefix per test file, so files can run in parallel. */
export function uniqueNames(label: string) {
  const suffix = `${label}_${process.pid}_${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const databaseUrl = PG_ADMIN_URL.replace(/\/[^/]*$/, `/trackline_test_${suffix}`);
  return { databaseUrl, redisPrefix: `{tl-test-${suffix}}` };
}

export function planeConnection(sandboxUrl: string, projectId: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'plane-main',
    tracker: 'plane',
    base_url: sandboxUrl,
    workspace: 'acme',
    project: projectId,
    api_key: PLANE_KEY,
    rate_limit: 'off',
    poll_interval: '0',
    state_map: { planned: 'Todo', doing: 'In Progress', for_review: 'In Review', done: 'Done' },
    priority_map: { critical: 'urgent' },
    ...extra,
  };
}

export function testConfig(connections: unknown[], extra: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({
    api: { tokens: [API_TOKEN] },
    worker: { concurrency: 8, attempts: 5, backoff: '100ms', request_timeout: '2s', lock_duration: '3s' },
    connections,
    ...extra,
  });
}

export async function startHarness(label: string, options: HarnessOptions = {}): Promise<Harness> {
  const { databaseUrl, redisPrefix } = uniqueNames(label);
  const sandbox = createSandbox();
  const project = sandbox.plane.seedProject({
    workspace: 'acme',
    identifier: 'ET',
    name: 'Example Team',
    apiKeys: [PLANE_KEY],
    members: [{ email: 'alice@example.com', display_name: 'alice' }, { email: 'bob@example.com', display_name: 'bob' }],
  });
  const listening = await sandbox.listen(0);
  const config = testConfig([planeConnection(listening.url, project.projectId, options.plane)], options.config);
  const runtime = await createRuntime({
    role: 'all',
    env: { DATABASE_URL: databaseUrl, REDIS_URL, TRACKLINE_REDIS_PREFIX: redisPrefix, LOG_LEVEL: 'silent' },
    config,
    log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  const app = createApp({
    sql: runtime.db.sql,
    redis: runtime.producerRedis,
    config,
    connections: runtime.connections,
    queues: runtime.queues,
    log: runtime.log,
  });
  let apiServer: ReturnType<typeof serve> | undefined;
  let apiUrl = '';
  const harness: Harness = {
    runtime,
    app,
    sql: runtime.db.sql,
    sandbox,
    sandboxUrl: listening.url,
    project,
    databaseUrl,
    redisPrefix,
    api: (method, path, body, headers = {}) =>
      Promise.resolve(
        app.request(path, {
          method,
          headers: { authorization: `Bearer ${API_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        }),
      ),
    postEvents: (body, headers) => harness.api('POST', '/v1/events', body, headers),
    async startWorkers(concurrency) {
      harness.workers = await startWorkers(runtime, { sweepEveryMs: 1000, concurrency: concurrency ?? options.concurrency });
      return harness.workers;
    },
    async listenApi() {
      if (apiServer) return apiUrl;
      await new Promise<void>((resolve) => {
        apiServer = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
          apiUrl = `http://127.0.0.1:${info.port}`;
          resolve();
        });
      });
      return apiUrl;
    },
    async close() {
      if (apiServer) {
        (apiServer as unknown as { closeAllConnections(): void }).closeAllConnections();
        await new Promise<void>((r) => apiServer!.close(() => r()));
      }
      await harness.workers?.close();
      await runtime.close();
      await listening.close();
      await dropDatabase(databaseUrl);
      await deleteRedisKeys(redisPrefix);
    },
  };
  if (options.workers !== false) await harness.startWorkers();
  return harness;
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end({ timeout: 2 });
  }
}

export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Polls until `check` returns a truthy value (or throws the last failure after `timeoutMs`). */
export async function waitFor<T>(check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw lastError instanceof Error ? lastError : new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
