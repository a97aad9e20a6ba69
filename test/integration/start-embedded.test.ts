import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `trackline start --embedded`: private servers only when asked, never in production or beside
 * a DATABASE_URL, and stopped with Trackline.
 */
const TRACKLINE = fileURLToPath(new URL('../../bin/trackline.js', import.meta.url));
const cwd = mkdtempSync(join(tmpdir(), 'trackline-start-embedded-'));
chmodSync(cwd, 0o755);
writeFileSync(join(cwd, 'trackline.toml'), '[api]\ntokens = ["start-embedded-token-0123"]\n');
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn' };
const canIsolate = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up']).status === 0;

function run(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [TRACKLINE, ...args], { cwd, env: { ...baseEnv, ...env }, encoding: 'utf8', timeout: 60_000 });
}

describe('trackline start --embedded', () => {
  it('is refused in production and beside a DATABASE_URL (usage, exit 2), starting nothing', () => {
    const production = run(['start', '--embedded'], { NODE_ENV: 'production' });
    expect(production.status).toBe(2);
    expect(production.stderr).toMatch(/--embedded is for trying Trackline out, not for NODE_ENV=production/);
    const named = run(['start', '--embedded'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' });
    expect(named.status).toBe(2);
    expect(named.stderr).toMatch(/DATABASE_URL names a server: use one or the other/);
    expect(existsSync(join(cwd, '.trackline'))).toBe(false);
  }, 120_000);

  it.skipIf(!canIsolate)(
    'with nothing on 5432/6379 it serves on private servers and stops them on SIGTERM',
    async () => {
      const child = spawn(
        'unshare',
        ['-n', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" "${TRACKLINE}" start --embedded --port 18931`],
        { cwd, env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      const deadline = Date.now() + 120_000;
      while (!/listening on/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(/trackline start: Embedded PostgreSQL 15\.\d+ on 127\.0\.0\.1:\d+ .*data in .*\.trackline\/postgres/);
      expect(out).toMatch(/listening on http:\/\/\S+:18931/);
      expect(existsSync(join(cwd, '.trackline/postgres/postmaster.pid'))).toBe(true);
      child.kill('SIGTERM');
      expect(await exited, out).toBe(0);
      expect(existsSync(join(cwd, '.trackline/postgres/postmaster.pid'))).toBe(false);
    },
    180_000,
  );
});
