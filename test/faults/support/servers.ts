import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Private Postgres and Redis servers for the fault suite, started from the Debian binaries on
 * ports of their own. The fault tests stop, kill and restart these; the machine's shared servers
 * (5432, 6379) are never touched. Every server started here is written to a registry file, so
 * the global teardown can stop what a crashed test file left running, by its own pid or data
 * directory and nothing else.
 */

const PG_BIN =
  process.env.FAULTS_PG_BIN ?? firstExisting(['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin']);
const REDIS_SERVER = process.env.FAULTS_REDIS_SERVER ?? 'redis-server';

/** Where the registry of started servers lives; set by the global setup for its workers. */
export function stateDir(): string {
  const dir = process.env.FAULTS_STATE_DIR;
  if (!dir) throw new Error('FAULTS_STATE_DIR is not set: run the fault suite with `npm run test:faults`');
  return dir;
}

type Registered = { kind: 'postgres'; dataDir: string } | { kind: 'redis'; pid: number };

function register(entry: Registered): void {
  appendFileSync(join(stateDir(), 'servers.jsonl'), JSON.stringify(entry) + '\n');
}

/** Stops everything the registry lists (global teardown); already-stopped entries are skipped. */
export function stopRegistered(dir: string): void {
  const file = join(dir, 'servers.jsonl');
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const entry = JSON.parse(line) as Registered;
    if (entry.kind === 'redis') {
      try {
        process.kill(entry.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    } else {
      if (existsSync(join(entry.dataDir, 'postmaster.pid'))) {
        try {
          asPostgres([join(PG_BIN, 'pg_ctl'), '-D', entry.dataDir, '-m', 'immediate', '-w', 'stop']);
        } catch {
          /* already stopped */
        }
      }
      rmSync(dirname(entry.dataDir), { recursive: true, force: true });
    }
  }
}

/** A free TCP port on 127.0.0.1 (bound and released; the caller binds it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, up: boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open === up) return;
    if (Date.now() > deadline) throw new Error(`port ${port} still ${up ? 'closed' : 'open'} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ------------------------------------------------------------------------------------ Postgres

export interface PostgresServer {
  port: number;
  /** The admin URL (database "postgres"), as the harness' TEST_PG_URL. */
  url: string;
  dataDir: string;
  /** Stops the server (fast shutdown: sessions are ended, new connections refused). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
}

/**
 * initdb refuses to run as root, and the server must not run as root either: as root, both run as
 * the `postgres` user through runuser, in a directory that user owns.
 */
export async function startPostgres(port: number): Promise<PostgresServer> {
  const root = mkdtempSync(join(tmpdir(), 'trackline-faults-pg-'));
  const dataDir = join(root, 'data');
  if (isRoot()) chownSync(root, postgresUid(), postgresGid());
  asPostgres([join(PG_BIN, 'initdb'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '-D', dataDir]);
  register({ kind: 'postgres', dataDir });
  const options = [
    `-p ${port}`,
    `-k ${root}`,
    '-c listen_addresses=127.0.0.1',
    // Five trackline processes with pools of 20, plus the tests' own clients.
    '-c max_connections=400',
    // Durability of Postgres itself is not what these tests probe (they stop it cleanly).
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
  ].join(' ');
  const server: PostgresServer = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    // Asynchronous: the test process also serves the api under test, and a blocked event loop
    // would show up as intake latency that Trackline did not cause.
    stop(mode = 'fast') {
      return asPostgresAsync([join(PG_BIN, 'pg_ctl'), '-D', dataDir, '-m', mode, '-w', '-t', '30', 'stop']);
    },
    start() {
      return asPostgresAsync([
        join(PG_BIN, 'pg_ctl'),
        '-D',
        dataDir,
        '-o',
        options,
        '-l',
        join(root, 'postgres.log'),
        '-w',
        '-t',
        '30',
        'start',
      ]);
    },
  };
  await server.start();
  return server;
}

function postgresCommand(argv: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', ...argv]] : [argv[0]!, argv.slice(1)];
}

function asPostgres(argv: string[]): void {
  const [cmd, args] = postgresCommand(argv);
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0)
    throw new Error(`${argv.join(' ')} failed (${result.status}): ${result.stderr || result.stdout || result.error?.message}`);
}

function asPostgresAsync(argv: string[]): Promise<void> {
  const [cmd, args] = postgresCommand(argv);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} failed (${code}): ${output}`))));
  });
}

// --------------------------------------------------------------------------------------- Redis

export interface RedisServer {
  port: number;
  url: string;
  /** Stops the process (SIGKILL: what a crash or an OOM kill looks like; no data survives). */
  stop(): Promise<void>;
  start(): Promise<void>;
  readonly running: boolean;
}

/**
 * A Redis child process without persistence: a restart starts empty, the harshest case for the
 * queue (every waiting job, scheduler and lock is gone) and the one the outbox must cover.
 */
export async function startRedis(port: number): Promise<RedisServer> {
  let child: ChildProcess | null = null;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== null;
    },
    async start() {
      if (child) return;
      const proc = spawn(
        REDIS_SERVER,
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      proc.stderr?.on('data', (d) => (stderr += d));
      child = proc;
      register({ kind: 'redis', pid: proc.pid! });
      const exited = new Promise<never>((_, reject) =>
        proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${stderr}`))),
      );
      exited.catch(() => {});
      await Promise.race([waitForPort(port, true, 10_000), exited]);
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      child = null;
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGKILL');
      await gone;
      await waitForPort(port, false, 5_000);
    },
  };
  await server.start();
  return server;
}

// ------------------------------------------------------------------------------------- helpers

function firstExisting(dirs: string[]): string {
  return dirs.find((d) => existsSync(join(d, 'initdb'))) ?? dirs[0]!;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function postgresUid(): number {
  return Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
}

function postgresGid(): number {
  return Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
}

export function makeStateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'trackline-faults-'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
