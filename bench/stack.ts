import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { stringify } from 'smol-toml';
import { ConfigSchema, type Config } from '../src/config/schema.ts';
import { ensureDatabase } from '../src/db/client.ts';
import { connectQueueBackend } from '../src/queues/connect-queue-backend.ts';
import type { QueueBackendKind } from '../src/queues/queue-backend.ts';
import { Queues } from '../src/queues/queues.ts';
import { runMigrations } from '../src/db/migrate.ts';
import { createSandbox, type Sandbox, type SandboxOptions } from '../sandbox/server.ts';
import type { SeededProject } from '../sandbox/plane/model.ts';
import { progress } from './progress.ts';
import { deleteKeys, dropDatabase } from '../test/support/cleanup.ts';

/**
 * A disposable Trackline deployment for one benchmark run: its own database (unique name, dropped
 * afterwards), its own Redis key prefix (deleted afterwards), its queues on the backend it was
 * opened with (`[queue] backend` in its config), an in-process sandbox Plane as the tracker, a
 * config file, and `trackline` child processes started from bin/trackline.js exactly as an
 * operator starts them. Nothing outside the databases and prefix it made is touched.
 *
 * The system under test runs in child processes, never in the benchmark's own process, so the
 * driver's bookkeeping (and the sandbox, which plays the remote tracker) does not share an event
 * loop with the code being measured.
 */

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const API_TOKEN = 'bench-token-0123456789abcdef';
export const PLANE_KEY = 'plane_api_bench_key';
export const WEBHOOK_SECRET = 'plane_wh_bench0123456789abcdef';
export const CONNECTION_ID = 'plane-main';

export interface StackOptions {
  label: string;
  /** Where Trackline's queues live (Redis unless told). */
  queueBackend?: QueueBackendKind;
  /** Extra keys for the Plane connection (rate_limit, import_labels...). */
  connection?: Record<string, unknown>;
  /** The [worker] table. */
  worker?: Record<string, unknown>;
  sandbox?: SandboxOptions;
  /** Labels to create in the sandbox project. */
  labels?: string[];
  /** Also a GitHub connection (`gh-main`, repo acme/app in the sandbox) with its default budget. */
  github?: boolean;
}

export const GITHUB = {
  owner: 'acme',
  repo: 'app',
  token: 'ghp_bench_token_0123456789',
  login: 'trackline-bench',
  connectionId: 'gh-main',
} as const;

export interface TracklineProcess {
  role: string;
  pid: number;
  /** The api's base URL, for roles that serve HTTP. */
  url?: string;
  /** The last output lines (pino JSON and the start-up line), for error messages. */
  output(): string;
  /** Peak resident memory so far (VmHWM, MB); null where /proc is not readable or once it exited. */
  peakRssMb(): number | null;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const open = new Set<Stack>();
let signalsHooked = false;

export class Stack {
  readonly sql: postgres.Sql;
  readonly redis: Redis;
  private readonly children = new Set<ChildProcess>();
  /** Queue namespaces opened beside this stack's own (siblingQueues), closed with it. */
  private readonly siblings: { queues: Queues; databaseUrl?: string }[] = [];
  private readonly tempDir: string;
  private closed = false;

  private constructor(
    readonly label: string,
    readonly databaseUrl: string,
    readonly redisPrefix: string,
    readonly sandbox: Sandbox,
    readonly sandboxUrl: string,
    private readonly closeSandbox: () => Promise<void>,
    readonly project: SeededProject,
    readonly config: Config,
    readonly configPath: string,
    /**
     * The stack's own queues, on its backend, as `trackline api` builds them: what a section reads
     * or adds to the queues goes through here, so it works on either backend.
     */
    readonly queues: Queues,
  ) {
    this.sql = postgres(databaseUrl, { max: 4, onnotice: () => {} });
    this.redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    this.tempDir = join(configPath, '..');
  }

  static async open(options: StackOptions): Promise<Stack> {
    hookSignals();
    const suffix = `${options.label}_${process.pid}_${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    const databaseUrl = PG_ADMIN_URL.replace(/\/[^/]*$/, `/trackline_bench_${suffix}`);
    // Braces keep every key in one Cluster slot, as Trackline's own default prefix does.
    const redisPrefix = `{tl-bench-${suffix}}`;
    const sandbox = createSandbox({ logLimit: 1_000_000, ...options.sandbox });
    const project = sandbox.plane.seedProject({
      workspace: 'acme',
      identifier: 'ET',
      name: 'Bench Team',
      apiKeys: [PLANE_KEY],
      members: [
        { email: 'alice@example.com', display_name: 'alice' },
        { email: 'bob@example.com', display_name: 'bob' },
      ],
      labels: options.labels ?? ['backend', 'frontend'],
    });
    if (options.github) {
      sandbox.github.store.seedRepo({
        owner: GITHUB.owner,
        ownerType: 'Organization',
        repo: GITHUB.repo,
        tokens: [{ token: GITHUB.token, login: GITHUB.login, scopes: ['repo'] }],
        collaborators: ['alice', 'bob'],
        labels: ['todo', 'in-progress', 'backend'],
      });
    }
    const listening = await sandbox.listen(0, '127.0.0.1');
    const queueBackend = options.queueBackend ?? 'redis';
    const config = ConfigSchema.parse({
      api: { tokens: [API_TOKEN] },
      // Named, never chosen by what answers on this machine: a figure must say what it measured.
      queue: { backend: queueBackend },
      worker: { ...options.worker },
      connections: [
        {
          id: CONNECTION_ID,
          tracker: 'plane',
          base_url: listening.url,
          workspace: 'acme',
          project: project.projectId,
          api_key: PLANE_KEY,
          webhook_secret: WEBHOOK_SECRET,
          poll_interval: '0',
          state_map: { planned: 'Todo', doing: 'In Progress', for_review: 'In Review', done: 'Done' },
          ...options.connection,
        },
        ...(options.github
          ? [
              {
                id: GITHUB.connectionId,
                tracker: 'github',
                base_url: `${listening.url}/api/v3`,
                owner: GITHUB.owner,
                repo: GITHUB.repo,
                token: GITHUB.token,
                poll_interval: '0',
                state_map: { planned: 'todo', doing: 'in-progress', for_review: 'in-progress', done: 'closed' },
              },
            ]
          : []),
      ],
    });
    const dir = mkdtempSync(join(tmpdir(), 'trackline-bench-'));
    const configPath = join(dir, 'trackline.toml');
    writeFileSync(configPath, stringify(JSON.parse(JSON.stringify(config))));
    // Migrations run once here: three worker processes starting together would otherwise race.
    await ensureDatabase(databaseUrl);
    await runMigrations(databaseUrl);
    // Connecting with `migrate` also creates the PostgreSQL queue schema, before any process races for it.
    const queues = await openQueues(queueBackend, databaseUrl, redisPrefix).catch(async (error) => {
      await listening.close().catch(() => {});
      await dropDatabase(PG_ADMIN_URL, databaseUrl).catch(() => {});
      throw error;
    });
    const stack = new Stack(
      options.label,
      databaseUrl,
      redisPrefix,
      sandbox,
      listening.url,
      listening.close,
      project,
      config,
      configPath,
      queues,
    );
    open.add(stack);
    return stack;
  }

  get queueBackend(): QueueBackendKind {
    return this.queues.backend.kind;
  }

  /**
   * Queues in a namespace of their own beside this stack's, on the same backend, for a reference
   * peer whose jobs must not mix with Trackline's: on Redis a prefix under the stack's (deleted
   * with it), on PostgreSQL a database of its own (dropped with it). `env` points a child process
   * started with `spawnNode(..., { env })` at it.
   */
  async siblingQueues(tag: string): Promise<{ queues: Queues; env: Record<string, string> }> {
    if (this.queueBackend === 'redis') {
      const prefix = `${this.redisPrefix}-${tag}`;
      const queues = await openQueues('redis', this.databaseUrl, prefix);
      this.siblings.push({ queues });
      return { queues, env: { TRACKLINE_REDIS_PREFIX: prefix } };
    }
    const databaseUrl = `${this.databaseUrl}_${tag}`;
    await ensureDatabase(databaseUrl);
    // A connect that fails still drops the database it made.
    const queues = await openQueues('postgres', databaseUrl, this.redisPrefix).catch(async (error) => {
      await dropDatabase(PG_ADMIN_URL, databaseUrl).catch(() => {});
      throw error;
    });
    this.siblings.push({ queues, databaseUrl });
    return { queues, env: { DATABASE_URL: databaseUrl } };
  }

  /** Env for a `trackline` child process: this stack's database, prefix and config, loopback only. */
  childEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL,
      TRACKLINE_REDIS_PREFIX: this.redisPrefix,
      TRACKLINE_CONFIG: this.configPath,
      HOST: '127.0.0.1',
      PORT: '0',
      // info: the "trackline started" line is how readiness of a worker is seen.
      LOG_LEVEL: 'info',
      ...extra,
    };
  }

  /**
   * Starts `trackline <role>` and resolves once it is ready: the api's "listening on" line, or a
   * worker's "trackline started" log line. `nodeArgs` lets a run be profiled (--cpu-prof).
   */
  spawn(
    role: 'start' | 'api' | 'worker',
    options: { args?: string[]; nodeArgs?: string[]; timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<TracklineProcess> {
    return this.spawnNode(role, [...(options.nodeArgs ?? []), join(ROOT, 'bin/trackline.js'), role, ...(options.args ?? [])], {
      timeoutMs: options.timeoutMs,
      env: options.env,
      ready: role === 'worker' ? '"msg":"trackline started"' : undefined,
    });
  }

  /**
   * Starts a Node process with this stack's environment and resolves once it prints
   * "listening on <url>" (or `ready`). Only processes started here are ever signalled.
   */
  async spawnNode(
    label: string,
    argv: string[],
    options: { ready?: string; timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<TracklineProcess> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const child = spawn(process.execPath, argv, { cwd: ROOT, env: this.childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-16_384);
    };
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    void exited.then(() => this.children.delete(child));

    const url = await new Promise<string | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label} did not start within ${timeoutMs / 1000} s:\n${tail}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        keep(chunk);
        const listening = /listening on (http:\/\/\S+)/.exec(tail);
        if (listening) {
          clearTimeout(timer);
          resolve(listening[1]);
        } else if (options.ready && tail.includes(options.ready)) {
          clearTimeout(timer);
          resolve(undefined);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${label} exited with ${code} before it was ready:\n${tail}`));
      });
    });
    // After start-up only a bounded tail is kept: a long run's logs must not grow memory.
    child.stdout!.removeAllListeners('data');
    child.stderr!.removeAllListeners('data');
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return {
      role: label,
      pid: child.pid!,
      url,
      output: () => tail,
      peakRssMb: () => peakRssMb(child.pid!),
      stop: async (graceMs = 20_000) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
    };
  }

  /** Requests the sandbox Plane received on its API (control routes excluded). */
  planeRequests() {
    return this.sandbox.log.entries({ tracker: 'plane' });
  }

  /** Stops every child, drops the database, deletes the Redis keys. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    open.delete(this);
    await Promise.all(
      [...this.children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await this.closeSandbox().catch(() => {});
    for (const { queues, databaseUrl } of [...this.siblings, { queues: this.queues, databaseUrl: undefined }]) {
      await queues.close().catch(() => {});
      await queues.backend.close().catch(() => {});
      if (databaseUrl) await dropDatabase(PG_ADMIN_URL, databaseUrl).catch(() => {});
    }
    await this.sql.end({ timeout: 2 }).catch(() => {});
    await dropDatabase(PG_ADMIN_URL, this.databaseUrl).catch((error) =>
      progress('cleanup', `could not drop ${this.databaseUrl}: ${(error as Error).message}`),
    );
    await deleteKeys(this.redis, this.redisPrefix).catch((error) =>
      progress('cleanup', `could not delete Redis keys ${this.redisPrefix}*: ${(error as Error).message}`),
    );
    this.redis.disconnect();
    rmSync(this.tempDir, { recursive: true, force: true });
  }
}

/** Queues on `kind` for the bench's own use: a producer, no workers, the schema brought up to date. */
async function openQueues(kind: QueueBackendKind, databaseUrl: string, redisPrefix: string): Promise<Queues> {
  const backend = await connectQueueBackend(kind, { databaseUrl, redisUrl: REDIS_URL, redisPrefix, workers: false, migrate: true });
  return new Queues(backend, { attempts: 8, backoffMs: 1000 });
}

/** Ctrl-C during a run still drops the databases and keys this run made, then exits. */
function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  const onSignal = (signal: NodeJS.Signals) => {
    progress('bench', `${signal}: cleaning up ${open.size} open stack(s)`);
    const forced = setTimeout(() => process.exit(130), 20_000);
    forced.unref();
    void Promise.all([...open].map((s) => s.close())).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/** A process's peak resident set (VmHWM in /proc/<pid>/status), in MB; null when unreadable. */
export function peakRssMb(pid: number): number | null {
  return procStatusMb(pid, 'VmHWM');
}

/** A process's resident set now (VmRSS), in MB; null when unreadable. */
export function rssMb(pid: number): number | null {
  return procStatusMb(pid, 'VmRSS');
}

function procStatusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}
