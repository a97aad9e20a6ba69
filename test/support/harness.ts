import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { ConfigSchema, type Config } from '../../src/config/schema.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { createApp } from '../../src/api/app.ts';
import { startWorkers, type RunningWorkers } from '../../src/jobs/worker.ts';
import { createSandbox } from '../../sandbox/server.ts';
import { SANDBOX_PROJECT_FIELDS } from '../../sandbox/github/store.ts';
import { createLogger } from '../../src/support/logger.ts';
import { serve } from '@hono/node-server';
import { deleteKeys, dropDatabase as dropTestDatabase } from './cleanup.ts';
import type { Logger } from 'pino';

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
/**
 * Whether the run has a Redis: the global setup leaves TEST_REDIS_URL empty on a machine with none
 * (no Redis answers and no redis-server is installed), and the suite then runs its queues on
 * PostgreSQL; tests of Redis itself skip.
 */
export const REDIS_AVAILABLE = process.env.TEST_REDIS_URL !== '';
/**
 * The queue backend the harness runs Trackline on: TEST_QUEUE_BACKEND (`redis` or `postgres`), else
 * `postgres` when there is no Redis, else `redis`. A test may ask for one (HarnessOptions.queueBackend).
 */
export const QUEUE_BACKEND = queueBackendFromEnv(process.env.TEST_QUEUE_BACKEND);
/**
 * REDIS_URL of a Trackline on the PostgreSQL queue backend: a port nothing listens on, so anything
 * that still opened a Redis connection in that mode would fail instead of quietly using one.
 */
export const NO_REDIS_URL = 'redis://127.0.0.1:1';

function queueBackendFromEnv(value: string | undefined): 'redis' | 'postgres' {
  if (value === 'redis' || value === 'postgres') return value;
  if (value) throw new Error(`TEST_QUEUE_BACKEND must be "redis" or "postgres", not "${value}"`);
  return REDIS_AVAILABLE ? 'redis' : 'postgres';
}
export const API_TOKEN = 'test-token-0123456789';
export const PLANE_KEY = 'plane_api_test_key';
/** The sandbox GitHub: repository acme/app, token with repo and project scopes, project #1 of acme. */
export const GITHUB = {
  owner: 'acme',
  repo: 'app',
  token: 'ghp_test_token_0123456789',
  login: 'trackline-bot',
  projectNumber: 1,
  webhookSecret: 'gh-webhook-secret',
} as const;

/** The sandbox Jira: project ET, an API user (basic auth email:token, JQL dates in Berlin time) and two people. */
export const JIRA = {
  projectKey: 'ET',
  email: 'trackline-bot@example.com',
  token: 'jira_api_test_token',
  timeZone: 'Europe/Berlin',
  webhookSecret: 'jira-webhook-secret',
  people: {
    alice: { email: 'alice@example.com', accountId: '5b10ac8d82e05b22cc7d4ef5' },
    bob: { email: 'bob@example.com', accountId: '5b10ac8d82e05b22cc7d4ef6' },
  },
} as const;

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
  /** Where this harness's queues are. */
  queueBackend: 'redis' | 'postgres';
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
  /** Extra keys for the Plane connection (maps, strategy...); false leaves Plane out. */
  plane?: Record<string, unknown> | false;
  /** Adds a `github` connection "gh-main" to acme/app in the sandbox, with these extra keys. */
  github?: Record<string, unknown>;
  /** Adds a `github-project` connection "gh-board" to project #1 of acme, with these extra keys. */
  githubProject?: Record<string, unknown>;
  /** Adds a `jira` connection "jira-main" to project ET of the sandbox Jira, with these extra keys. */
  jira?: Record<string, unknown>;
  /** More config (worker tuning...). */
  config?: Record<string, unknown>;
  workers?: boolean;
  /** The runtime's logger (tests that read log lines); default: silent, or TEST_LOG_LEVEL. */
  log?: Logger;
  concurrency?: number;
  /** The queue backend; default QUEUE_BACKEND (TEST_QUEUE_BACKEND). */
  queueBackend?: 'redis' | 'postgres';
  /** Cycles the seeded Plane project has before Trackline starts (so its warming loads them). */
  planeCycles?: string[];
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

export function githubConnection(sandboxUrl: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'gh-main',
    tracker: 'github',
    base_url: `${sandboxUrl}/api/v3`,
    owner: GITHUB.owner,
    repo: GITHUB.repo,
    token: GITHUB.token,
    webhook_secret: GITHUB.webhookSecret,
    rate_limit: 'off',
    poll_interval: '0',
    state_map: { planned: 'todo', doing: 'in-progress', for_review: 'in-review', done: 'closed', cancelled: 'closed:not_planned' },
    ...extra,
  };
}

export function githubProjectConnection(sandboxUrl: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'gh-board',
    tracker: 'github-project',
    base_url: `${sandboxUrl}/api/v3`,
    owner: GITHUB.owner,
    project_number: GITHUB.projectNumber,
    token: GITHUB.token,
    rate_limit: 'off',
    poll_interval: '0',
    direction: 'push',
    state_map: { planned: 'Todo', doing: 'In Progress', done: 'Done' },
    ...extra,
  };
}

export function jiraConnection(sandboxUrl: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'jira-main',
    tracker: 'jira',
    base_url: sandboxUrl,
    project_key: JIRA.projectKey,
    email: JIRA.email,
    api_token: JIRA.token,
    webhook_secret: JIRA.webhookSecret,
    rate_limit: 'off',
    poll_interval: '0',
    state_map: { planned: 'To Do', doing: 'In Progress', for_review: 'In Review', done: 'Done', cancelled: "Won't Do" },
    priority_map: { critical: 'Highest', high: 'High', medium: 'Medium', low: 'Low' },
    user_map: { alice: JIRA.people.alice.accountId, bob: JIRA.people.bob.accountId },
    ...extra,
  };
}

/** Seeds the sandbox Jira's project ET with the API user and two people. */
export function seedJira(sandbox: Sandbox) {
  return sandbox.jira.seedProject({
    key: JIRA.projectKey,
    name: 'Example Team',
    users: [
      { email: JIRA.email, displayName: 'Trackline Bot', apiToken: JIRA.token, timeZone: JIRA.timeZone },
      { email: JIRA.people.alice.email, displayName: 'Alice', accountId: JIRA.people.alice.accountId },
      { email: JIRA.people.bob.email, displayName: 'Bob', accountId: JIRA.people.bob.accountId },
    ],
  });
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
    members: [
      { email: 'alice@example.com', display_name: 'alice' },
      { email: 'bob@example.com', display_name: 'bob' },
    ],
  });
  if (options.github || options.githubProject) {
    sandbox.github.store.seedRepo({
      owner: GITHUB.owner,
      ownerType: 'Organization',
      repo: GITHUB.repo,
      tokens: [{ token: GITHUB.token, login: GITHUB.login, scopes: ['repo', 'project'] }],
      collaborators: ['alice', 'bob'],
      labels: ['todo', 'in-progress', 'in-review', 'bug'],
    });
    sandbox.github.store.seedProject({
      owner: GITHUB.owner,
      number: GITHUB.projectNumber,
      title: 'Roadmap',
      fields: [{ name: 'Priority', dataType: 'SINGLE_SELECT', options: ['P0', 'P1', 'P2'] }, ...SANDBOX_PROJECT_FIELDS],
    });
  }
  for (const name of options.planeCycles ?? []) sandbox.planeGroups.createCycle(project.projectId, { name });
  if (options.jira) seedJira(sandbox);
  const listening = await sandbox.listen(0);
  const connections: unknown[] = [];
  if (options.plane !== false) connections.push(planeConnection(listening.url, project.projectId, options.plane));
  if (options.github) connections.push(githubConnection(listening.url, options.github));
  if (options.githubProject) connections.push(githubProjectConnection(listening.url, options.githubProject));
  if (options.jira) connections.push(jiraConnection(listening.url, options.jira));
  const queueBackend = options.queueBackend ?? QUEUE_BACKEND;
  const config = testConfig(connections, { queue: { backend: queueBackend }, ...options.config });
  const runtime = await createRuntime({
    role: 'all',
    env: {
      DATABASE_URL: databaseUrl,
      REDIS_URL: queueBackend === 'postgres' ? NO_REDIS_URL : REDIS_URL,
      TRACKLINE_REDIS_PREFIX: redisPrefix,
      LOG_LEVEL: 'silent',
    },
    config,
    log: options.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  const app = createApp({
    sql: runtime.db.sql,
    config,
    connections: runtime.connections,
    queues: runtime.queues,
    log: runtime.log,
    metrics: runtime.metrics,
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
    queueBackend,
    api: (method, path, body, headers = {}) =>
      Promise.resolve(
        app.request(path, {
          method,
          headers: {
            authorization: `Bearer ${API_TOKEN}`,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...headers,
          },
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
      if (REDIS_AVAILABLE) await deleteRedisKeys(redisPrefix);
    },
  };
  if (options.workers !== false) await harness.startWorkers();
  return harness;
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  await dropTestDatabase(PG_ADMIN_URL, databaseUrl);
}

export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await deleteKeys(redis, prefix);
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
