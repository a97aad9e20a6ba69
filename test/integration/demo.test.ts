import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/support/ports.ts';
import { redisServerBinary } from '../../src/support/local-redis.ts';
import { REDIS_AVAILABLE, REDIS_URL, PG_ADMIN_URL } from '../support/harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TRACKLINE = join(ROOT, 'bin/trackline.js');

/** Runs a command to its end; answers its exit code and its output (stdout and stderr). */
async function run(command: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code, out };
}

// REDIS_SERVER=none (a run as on a machine without redis-server) reaches the demo too.
const baseEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  ...(process.env.REDIS_SERVER ? { REDIS_SERVER: process.env.REDIS_SERVER } : {}),
});

// A network namespace of its own (root, or a kernel allowing unprivileged ones) has only a
// loopback, where nothing listens on 5432 or 6379: a bare machine, as far as the demo can tell.
const canIsolate = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up']).status === 0;
if (!canIsolate) console.log('[demo test] the bare-machine case is skipped: this user cannot make a network namespace (unshare -n)');

describe('trackline demo', () => {
  it('runs start to finish with no credentials and shows every step', async () => {
    const child = spawn(process.execPath, ['bin/trackline.js', 'demo', '--exit', '--port', '0'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        DATABASE_URL: PG_ADMIN_URL.replace(/\/[^/]*$/, '/trackline'),
        // Without a Redis the demo runs its queues in PostgreSQL.
        ...(REDIS_AVAILABLE ? { REDIS_URL } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, out).toBe(0);
    for (const expected of [
      /Plane issue ET-1 created once/,
      /Plane shows "In Progress" and the comment/,
      /the work item joined Plane cycle "Sprint 1"/,
      /change #\d+: state "doing" → "for_review"/,
      /signature verified/,
      /conflict #\d+ on title/,
      /resolved by operator:demo/,
      /failed after 1 attempt: PATCH .* answered 422/,
      /Plane shows "Done"/,
      /and GitHub issue #1 /,
      /pull request #3 opened from feature\/WP03 → main \(open\), once; its body says "Closes #2"/,
      /Plane shows it on the work item as a link: "PR #3: WP03: API endpoints \(open\)"/,
      /item\.pr_changed "open" → "merged" by alice/,
      /the item is "done"; GitHub closed issue #2 \(Closes #2\); Plane shows "Done" and the link reads "\(merged\)"/,
      /✓ demo finished/,
    ])
      expect(out).toMatch(expected);
    expect(out).not.toMatch(/"level":50/);
  }, 60_000);

  it.skipIf(!canIsolate)(
    'on a machine where nothing listens on 5432 or 6379 it starts a private PostgreSQL and Redis, finishes, and stops them',
    async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'trackline-demo-bare-'));
      // As a project folder usually is (mkdtemp makes 0700): as root, the server's user must enter it.
      chmodSync(cwd, 0o755);
      try {
        const { code, out } = await run(
          'unshare',
          ['-n', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" "${TRACKLINE}" demo --exit --port 0`],
          { cwd, env: baseEnv() },
        );
        expect(code, out).toBe(0);
        expect(out).toMatch(
          new RegExp(
            `Embedded PostgreSQL 15\\.\\d+ on 127\\.0\\.0\\.1:\\d+ .*data in ${cwd}/\\.trackline/postgres, kept between runs; remove it with: rm -rf ${cwd}/\\.trackline`,
          ),
        );
        if (redisServerBinary(process.env)) expect(out).toMatch(/Redis from \S*redis-server on 127\.0\.0\.1:\d+/);
        else expect(out).toMatch(/No Redis \(.*redis-server is not installed\): the queues are in PostgreSQL/);
        expect(out).toMatch(/Plane issue ET-1 created once/);
        expect(out, out).toMatch(/item\.pr_changed "open" → "merged" by alice/);
        expect(out).toMatch(/✓ demo finished/);
        // Stopped cleanly: PostgreSQL removes its pid file when it shuts down.
        expect(existsSync(join(cwd, '.trackline/postgres/PG_VERSION'))).toBe(true);
        expect(existsSync(join(cwd, '.trackline/postgres/postmaster.pid'))).toBe(false);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    },
    120_000,
  );

  it('a DATABASE_URL that points nowhere is one line, never replaced by a private server', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'trackline-demo-nowhere-'));
    try {
      const port = await freePort();
      const { code, out } = await run(process.execPath, [TRACKLINE, 'demo', '--exit', '--port', '0'], {
        cwd,
        env: { ...baseEnv(), DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/trackline`, REDIS_URL },
      });
      expect(code).toBe(1);
      expect(out.trim()).toBe(
        `trackline demo: cannot reach PostgreSQL at 127.0.0.1:${port} (ECONNREFUSED); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or docker compose up postgres)`,
      );
      expect(existsSync(join(cwd, '.trackline'))).toBe(false);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 60_000);
});
