import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'smol-toml';
import type { Harness } from './harness.ts';
import { NO_REDIS_URL, REDIS_URL } from './harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Writes the harness's config as a trackline.toml in a folder of its own, for a `trackline` child process. */
function writeConfigFile(h: Harness): string {
  const dir = mkdtempSync(join(tmpdir(), 'trackline-test-'));
  const path = join(dir, 'trackline.toml');
  const { config } = h.runtime;
  writeFileSync(path, stringify(JSON.parse(JSON.stringify(config))));
  return path;
}

export interface Child {
  process: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/**
 * Runs `trackline <args>` as a real process against the harness's database and Redis prefix, on the
 * harness's queue backend (the config file carries `[queue] backend`).
 */
export function spawnTrackline(h: Harness, args: string[], extraEnv: Record<string, string> = {}): Child {
  const configPath = writeConfigFile(h);
  const child = spawn(process.execPath, [join(ROOT, 'bin/trackline.js'), ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: h.databaseUrl,
      REDIS_URL: h.queueBackend === 'postgres' ? NO_REDIS_URL : REDIS_URL,
      TRACKLINE_REDIS_PREFIX: h.redisPrefix,
      TRACKLINE_CONFIG: configPath,
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  // The config folder goes with the process: a run of the suite spawns a few hundred of them.
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      rmSync(dirname(configPath), { recursive: true, force: true });
      resolve(code);
    }),
  );
  return { process: child, output: () => out, exited };
}
