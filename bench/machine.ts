import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, platform, availableParallelism } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { PG_ADMIN_URL, REDIS_URL, ROOT } from './stack.ts';
import { wrkVersion } from './load.ts';

/** The machine and software a report was measured on, so two reports can be compared fairly. */
export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  redis: string;
  wrk: string | null;
  /** Installed versions (node_modules), not the ranges in package.json. */
  packages: Record<string, string>;
  /** 1-minute load average when the run started: a busy shared machine shows here. */
  loadAverageAtStart: number;
}

const PACKAGES = ['bullmq', 'hono', '@hono/node-server', 'postgres', 'ioredis'];

export async function describeMachine(): Promise<Machine> {
  const sql = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const [{ server_version }] = await sql<{ server_version: string }[]>`show server_version`;
    const info = await redis.info('server');
    return {
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      cores: availableParallelism(),
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      os: `${platform()} ${release()}`,
      node: process.version,
      postgres: server_version,
      redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
      wrk: wrkVersion(),
      packages: Object.fromEntries(PACKAGES.map((name) => [name, installedVersion(name)])),
      loadAverageAtStart: Math.round(loadavg()[0] * 100) / 100,
    };
  } finally {
    await sql.end({ timeout: 2 });
    redis.disconnect();
  }
}

function installedVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}
