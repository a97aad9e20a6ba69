import { writeFileSync } from 'node:fs';
import type { QueueBackendKind } from '../src/queues/queue-backend.ts';
import { backendId, backendSection } from './backends.ts';
import type { Goal, Summary } from './figures.ts';
import type { Machine } from './machine.ts';

/**
 * Writes bench/report.md (for people) and bench/report.json (for tools and for comparing runs).
 * Each figure is the median over the runs, shown next to the median of its same-run reference and
 * the median of the per-run ratios; the per-run values follow so the spread is visible.
 */
export interface Report {
  startedAt: string;
  durationS: number;
  /** `backends`: the queue backends the per-backend sections ran on (absent in older reports). */
  options: { runs: number; quick: boolean; only: string[] | null; backends?: QueueBackendKind[] };
  machine: Machine;
  figures: Summary[];
  /** Sections that failed, with the error: a partial report still says what broke. */
  failures: { section: string; error: string }[];
  /** Facts a reader needs that are not figures (profiles written, caveats). */
  notes: string[];
}

export function writeReport(report: Report, paths: { md: string; json: string }): void {
  writeFileSync(paths.json, `${JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  writeFileSync(paths.md, renderMarkdown(report));
}

export function renderMarkdown(report: Report): string {
  const m = report.machine;
  const lines: string[] = [];
  lines.push('# Trackline benchmark report', '');
  lines.push(
    `Run ${report.startedAt}, ${Math.round(report.durationS)} s, ${report.options.runs} run(s) per figure${report.options.quick ? ', **quick mode** (smaller workloads: a smoke test, not a measurement)' : ''}.`,
    'Each figure is the median over the runs; the reference is measured in the same run on the same machine, and the ratio is the median of the per-run ratios (value ÷ reference). Compare ratios across machines and days; absolute numbers drift on shared machines. Goals marked "every run" are invariants: they are met only if no run broke them.',
    '',
  );
  lines.push('## Machine', '');
  lines.push('| | |', '|---|---|');
  lines.push(`| CPU | ${m.cpuModel}, ${m.cores} cores |`);
  lines.push(`| Memory | ${m.memoryGiB} GiB |`);
  lines.push(`| OS | ${m.os} |`);
  lines.push(`| Node.js | ${m.node} |`);
  lines.push(`| PostgreSQL | ${m.postgres} |`);
  lines.push(`| Redis | ${m.redis} |`);
  lines.push(`| wrk | ${m.wrk ?? 'not installed'} |`);
  lines.push(
    `| Packages | ${Object.entries(m.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} |`,
  );
  lines.push(`| Load average at start | ${m.loadAverageAtStart} |`, '');

  const sections = [...new Set(report.figures.map((f) => f.section))];
  lines.push('## Figures', '');
  lines.push('| Figure | Median | Reference (same run) | Ratio | Goal | Met | Per run |', '|---|---:|---|---:|---|:---:|---|');
  for (const section of sections) {
    for (const f of report.figures.filter((x) => x.section === section)) {
      lines.push(
        `| **${section}** ${f.label} | ${fmt(f.median, f.unit)} | ${fmt(f.referenceMedian, f.referenceUnit)} ${f.referenceLabel} | ${fmtRatio(f.ratioMedian)} | ${goalText(f.goal, f.unit)} | ${f.met === null ? '' : f.met ? 'yes' : '**no**'} | ${f.runs.map((r) => fmt(r.value, f.unit, false)).join(' / ')} |`,
      );
    }
  }
  lines.push('');
  lines.push(...sideBySide(report.figures));
  if (report.failures.length) {
    lines.push('## Failures', '');
    for (const f of report.failures) lines.push(`- **${f.section}**: ${f.error.split('\n')[0]}`);
    lines.push('');
  }
  if (report.notes.length) {
    lines.push('## Notes', '');
    for (const n of report.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  const goals = [...new Map(report.figures.filter((f) => f.goal).map((f) => [f.goal!.source, f.goal!])).values()];
  if (goals.length) {
    lines.push('## Where the goals come from', '');
    for (const g of goals) lines.push(`- ${g.source}`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Every figure measured on both queue backends in one row: the medians, how PostgreSQL compares,
 * and each backend's ratio to its own same-run reference (for the sync, a no-op worker on the same
 * backend, so that ratio is what Trackline adds on top of BullMQ there).
 */
function sideBySide(figures: Summary[]): string[] {
  // A PostgreSQL figure has no twin of its own: its id with the suffix again names nothing.
  const pairs = figures.flatMap((redis) => {
    const postgres = figures.find(
      (f) => f.id === backendId(redis.id, 'postgres') && f.section === backendSection(redis.section, 'postgres'),
    );
    return postgres ? [{ redis, postgres }] : [];
  });
  if (pairs.length === 0) return [];
  const lines = ['## Queue backends side by side', ''];
  lines.push(
    'The same sections on two stacks of their own in the same run, one with its queues in Redis, one in PostgreSQL (`[queue] backend`). The intake’s durable peer stays on Redis in both; the sync’s no-op worker runs on the same backend as Trackline.',
    '',
  );
  lines.push('| Figure | Redis | PostgreSQL | PostgreSQL ÷ Redis | Ratio to reference (Redis / PostgreSQL) |', '|---|---:|---:|---:|---|');
  for (const { redis, postgres } of pairs) {
    const ratio = redis.median !== 0 && Number.isFinite(redis.median) ? postgres.median / redis.median : Number.NaN;
    lines.push(
      `| **${redis.section}** ${redis.label} | ${fmt(redis.median, redis.unit)} | ${fmt(postgres.median, postgres.unit)} | ${fmtRatio(ratio)} | ${fmtRatio(redis.ratioMedian)} / ${fmtRatio(postgres.ratioMedian)} |`,
    );
  }
  lines.push('');
  return lines;
}

function fmt(value: number, unit: string, withUnit = true): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = unit === 'ms' || unit === 's' ? (value < 10 ? 2 : 1) : Math.abs(value) < 10 ? 3 : Math.abs(value) < 100 ? 1 : 0;
  // Per-change ratios read best with their decimals even when whole ("1.000 writes/change").
  const minimum = unit.includes('/change') ? 3 : unit === 'ms' ? Math.min(digits, 1) : 0;
  const text = value.toLocaleString('en-US', { maximumFractionDigits: Math.max(digits, minimum), minimumFractionDigits: minimum });
  return withUnit ? `${text} ${unit}` : text;
}

function fmtRatio(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : 'n/a';
}

function goalText(goal: Goal | undefined, unit: string): string {
  if (!goal) return '';
  const target = Number.isInteger(goal.target) ? String(goal.target) : goal.target.toFixed(2);
  const text = goal.on === 'ratio' ? `ratio ${goal.op} ${target}` : `${goal.op} ${target} ${unit}`;
  return goal.everyRun ? `${text}, every run` : text;
}
