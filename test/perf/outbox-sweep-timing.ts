import postgres from 'postgres';
import { sweepOutbox } from '../../src/jobs/outbox-sweep.ts';
import { runMigrations } from '../../src/db/migrate.ts';
import type { Queues } from '../../src/queues/queues.ts';
import { seedHistory } from '../../bench/seed-history.ts';

/**
 * One outbox sweep's time on a database holding the history of 200,000 synced items (the bench's
 * seed, bench/seed-history.ts), 20 of them behind their item's version and long untouched.
 * Queues are stubs: this times the sweep's reads, not Redis. The scheduled sweep (a page of items)
 * and the full one (every pair at once, the sweep before issue 17 §4) alternate, so both see the
 * same machine.
 *   node --import tsx test/perf/outbox-sweep-timing.ts [items] [sweeps]
 * The database (trackline_sweep_timing) is kept between runs; drop it to reseed.
 */
const count = Number(process.argv[2] ?? 200_000);
const sweeps = Number(process.argv[3] ?? 20);
const admin = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `trackline_sweep_timing_${count}`;
const url = admin.replace(/\/[^/]*$/, `/${name}`);

const adminSql = postgres(admin, { max: 1, onnotice: () => {} });
if ((await adminSql`select 1 from pg_database where datname = ${name}`).length === 0) await adminSql.unsafe(`create database ${name}`);
await adminSql.end();
await runMigrations(url);
const sql = postgres(url, { max: 2, onnotice: () => {} });
if ((await sql`select count(*)::int as n from items`)[0].n === 0) {
  const t = performance.now();
  await seedHistory({ sql } as never, count, 'plane-main');
  // Behind their item, untouched for 20 days: only a pass over everything finds them.
  await sql`update items set version = 3 where key in (select 'old/' || g from generate_series(1, ${count}, ${Math.floor(count / 20)}) g)`;
  await sql`analyze`;
  console.log(`seeded ${count} items in ${Math.round(performance.now() - t)} ms`);
}

let found = 0;
const queues = {
  enqueueReconcile: async (jobs: unknown[]) => {
    found += jobs.length;
  },
  enqueueInbound: async () => {},
  enqueueCallbacks: async () => {},
  liveInboundJobs: async () => new Set<string>(),
} as unknown as Queues;

const times = { scheduled: [] as number[], full: [] as number[] };
for (let i = 0; i < sweeps; i++) {
  for (const mode of ['scheduled', 'full'] as const) {
    const t = performance.now();
    await sweepOutbox(sql, queues, { callbacks: true, full: mode === 'full' });
    times[mode].push(performance.now() - t);
  }
}
for (const [mode, list] of Object.entries(times)) {
  const sorted = [...list].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(1);
  console.log(`${mode} sweep, ${sweeps} runs over ${count} items: median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms`);
}
console.log(
  `pairs enqueued by both: ${found} (${Math.ceil(count / 20 / Math.floor(count / 20))} × 20 behind, found by each full sweep and once a cycle by the scheduled)`,
);
await sql.end();
