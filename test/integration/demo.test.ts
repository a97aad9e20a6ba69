import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REDIS_URL, PG_ADMIN_URL } from '../support/harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('trackline demo', () => {
  it('runs start to finish with no credentials and shows every step', async () => {
    const child = spawn(process.execPath, ['bin/trackline.js', 'demo', '--exit', '--port', '0'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        DATABASE_URL: PG_ADMIN_URL.replace(/\/[^/]*$/, '/trackline'),
        REDIS_URL,
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
      /change #\d+: state "doing" → "for_review"/,
      /signature verified/,
      /conflict #\d+ on title/,
      /resolved by operator:demo/,
      /failed after 1 attempt: PATCH .* answered 422/,
      /Plane shows "Done"/,
      /✓ demo finished/,
    ])
      expect(out).toMatch(expected);
    expect(out).not.toMatch(/"level":50/);
  }, 60_000);
});
