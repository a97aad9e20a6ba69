import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { BACKEND_NAME } from './backends.ts';
import { sleep } from './progress.ts';
import type { Stack } from './stack.ts';
import { percentile } from './stats.ts';

/**
 * What a durable answer waits on, measured beside the intake's open-loop phases:
 * - the disk: 8 kB written and fdatasync'ed in a loop, as Postgres writes its WAL at commit, on the
 *   file system of the database's data directory (the equivalent of pg_test_fsync's "one 8kB write"
 *   test, with every call timed so there is a p99);
 * - a commit under the load: a separate connection inserting one row every 10 ms;
 * - the queue store: a ping every 10 ms through the stack's queue backend (Redis PING, or a
 *   `select 1` on PostgreSQL's queue pool);
 * - the api itself: its event-loop delay (p99 and max) and GC time over the phase, from its
 *   /metrics (prom-client resets the event-loop histogram at every scrape).
 */
export interface FsyncProbe {
  p50Ms: number;
  p99Ms: number;
  summary: string;
}

export async function dataDirectory(stack: Stack): Promise<string> {
  const [row] = await stack.sql<{ data_directory: string }[]>`show data_directory`;
  return row.data_directory;
}

/** fdatasync latency on the file system holding `dataDir` (next to it, never inside it). */
export function probeFsync(dataDir: string, durationMs = 2000): FsyncProbe {
  const candidates = [dirname(dataDir), tmpdir()];
  for (const dir of candidates) {
    const file = join(dir, `trackline-bench-fsync-${process.pid}`);
    let fd: number;
    try {
      fd = openSync(file, 'w');
    } catch {
      continue;
    }
    try {
      const block = Buffer.alloc(8192, 7);
      const times: number[] = [];
      const until = Date.now() + durationMs;
      while (Date.now() < until && times.length < 5000) {
        const t = performance.now();
        writeSync(fd, block, 0, block.length, 0);
        fdatasyncSync(fd);
        times.push(performance.now() - t);
      }
      const p50Ms = percentile(times, 50);
      const p99Ms = percentile(times, 99);
      return {
        p50Ms,
        p99Ms,
        summary: `fsync probe in ${dir} (8 kB write + fdatasync, ${times.length} times in ${durationMs / 1000} s): p50 ${p50Ms.toFixed(2)} ms, p99 ${p99Ms.toFixed(2)} ms, max ${Math.max(...times).toFixed(2)} ms`,
      };
    } finally {
      closeSync(fd);
      rmSync(file, { force: true });
    }
  }
  return { p50Ms: Number.NaN, p99Ms: Number.NaN, summary: 'fsync probe: no writable directory' };
}

export interface TailProbes {
  stop(): Promise<string>;
}

export async function startTailProbes(stack: Stack, apiUrl: string): Promise<TailProbes> {
  const sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} });
  await sql`create table if not exists bench_commit_probe (id bigserial primary key, at timestamptz not null default now())`;
  const before = await scrape(apiUrl);
  const commits: number[] = [];
  const pings: number[] = [];
  let running = true;
  const loop = async (samples: number[], probe: () => Promise<unknown>) => {
    while (running) {
      const t = performance.now();
      await probe();
      samples.push(performance.now() - t);
      await sleep(10);
    }
  };
  const loops = [loop(commits, () => sql`insert into bench_commit_probe default values`), loop(pings, () => stack.queues.backend.ping())];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await sql.end({ timeout: 2 });
      const after = await scrape(apiUrl);
      const gcMs = after.gcSeconds !== null && before.gcSeconds !== null ? (after.gcSeconds - before.gcSeconds) * 1000 : Number.NaN;
      return (
        `a commit of one row beside it p50 ${percentile(commits, 50).toFixed(1)} / p99 ${percentile(commits, 99).toFixed(1)} ms; ` +
        `${BACKEND_NAME[stack.queueBackend]} queue ping p99 ${percentile(pings, 99).toFixed(1)} ms; ` +
        `api event-loop delay p99 ${fmt(after.loopP99)} / max ${fmt(after.loopMax)} ms; api GC ${Number.isFinite(gcMs) ? gcMs.toFixed(0) : '?'} ms in all over the phase`
      );
    },
  };
}

const fmt = (ms: number | null) => (ms === null ? '?' : ms.toFixed(1));

async function scrape(apiUrl: string): Promise<{ loopP99: number | null; loopMax: number | null; gcSeconds: number | null }> {
  try {
    const text = await (await fetch(`${apiUrl}/metrics`)).text();
    const value = (name: string) => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
      return m ? Number(m[1]) : null;
    };
    const gc = [...text.matchAll(/^nodejs_gc_duration_seconds_sum\{[^}]*\} ([0-9.eE+-]+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    const p99 = value('nodejs_eventloop_lag_p99_seconds');
    const max = value('nodejs_eventloop_lag_max_seconds');
    return { loopP99: p99 === null ? null : p99 * 1000, loopMax: max === null ? null : max * 1000, gcSeconds: gc };
  } catch {
    return { loopP99: null, loopMax: null, gcSeconds: null };
  }
}
