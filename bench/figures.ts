import { median } from './stats.ts';

/**
 * What one benchmark run measures, and how several runs fold into the report.
 *
 * Every figure carries a reference measured in the same run on the same machine (a plain
 * endpoint, a no-op queue worker, a bare fetch...), because these machines are shared and their
 * absolute speed drifts from minute to minute: the ratio to the reference is the number to compare
 * across runs and machines, the absolute value is what a user sees today.
 */
export interface Goal {
  /** Which number the goal constrains. */
  on: 'value' | 'ratio';
  op: '>=' | '<=' | '<' | '>';
  target: number;
  /** Where the goal comes from (design doc, the benchmark brief, a tracker's published limit). */
  source: string;
  /**
   * An invariant (no 429, nothing lost) must hold in every run, not in the median one: one run
   * with a 429 is a failure even if the other two had none.
   */
  everyRun?: boolean;
  /**
   * Holds on every queue backend, not only on Redis where the throughput goals were set
   * (bench/backends.ts): the invariants and the budget use, which Trackline's pacing owns.
   */
  allBackends?: boolean;
}

export interface Figure {
  /** Stable id for report.json consumers, e.g. "intake.webhooks.rps". */
  id: string;
  section: string;
  label: string;
  unit: string;
  value: number;
  reference: { label: string; value: number; unit: string };
  /** value ÷ reference.value. */
  ratio: number;
  goal?: Goal;
}

/** What one run of a benchmark hands back: its figures and anything a reader should know. */
export interface RunResult {
  figures: Figure[];
  notes: string[];
}

export interface Summary {
  id: string;
  section: string;
  label: string;
  unit: string;
  referenceLabel: string;
  referenceUnit: string;
  median: number;
  referenceMedian: number;
  /** Median of the per-run ratios (each run's value over that same run's reference). */
  ratioMedian: number;
  runs: { value: number; reference: number; ratio: number }[];
  goal?: Goal;
  /** Whether the median meets the goal; null without a goal or without a number. */
  met: boolean | null;
}

export function summarize(runs: Figure[][]): Summary[] {
  const byId = new Map<string, Figure[]>();
  for (const run of runs) for (const f of run) byId.set(f.id, [...(byId.get(f.id) ?? []), f]);
  return [...byId.values()].map((figures) => {
    const first = figures[0];
    const summary: Summary = {
      id: first.id,
      section: first.section,
      label: first.label,
      unit: first.unit,
      referenceLabel: first.reference.label,
      referenceUnit: first.reference.unit,
      median: median(figures.map((f) => f.value)),
      referenceMedian: median(figures.map((f) => f.reference.value)),
      ratioMedian: median(figures.map((f) => f.ratio)),
      runs: figures.map((f) => ({ value: f.value, reference: f.reference.value, ratio: f.ratio })),
      goal: first.goal,
      met: null,
    };
    summary.met = meets(summary);
    return summary;
  });
}

function meets(s: Summary): boolean | null {
  const goal = s.goal;
  if (!goal) return null;
  if (goal.everyRun) {
    const all = s.runs.map((r) => holds(goal, goal.on === 'value' ? r.value : r.ratio));
    return all.includes(null) ? null : all.every(Boolean);
  }
  return holds(goal, goal.on === 'value' ? s.median : s.ratioMedian);
}

function holds(goal: Goal, x: number): boolean | null {
  if (!Number.isFinite(x)) return null;
  switch (goal.op) {
    case '>=':
      return x >= goal.target;
    case '<=':
      return x <= goal.target;
    case '<':
      return x < goal.target;
    case '>':
      return x > goal.target;
  }
}

/** Shorthand used by the benchmarks: builds a figure and computes its ratio. */
export function figure(base: Omit<Figure, 'ratio' | 'reference'> & { reference: Figure['reference'] }): Figure {
  const ratio = base.reference.value > 0 && Number.isFinite(base.value) ? base.value / base.reference.value : Number.NaN;
  return { ...base, ratio };
}
