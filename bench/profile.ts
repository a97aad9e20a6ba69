import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './stack.ts';

/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and answers where the time went: self time per
 * function and per package, so the report can name the top costs without opening DevTools.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileCost {
  name: string;
  /** Share of all samples (0..1). */
  share: number;
  ms: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples not idle (program + GC). */
  busyShare: number;
  functions: ProfileCost[];
  packages: ProfileCost[];
  /**
   * Self time of Node internals, native code and GC charged to the nearest package or Trackline
   * directory up the stack that called into them: "who made the socket writes".
   */
  attributed: ProfileCost[];
}

export function summarizeProfile(path: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  // Each sample is charged the time until the next one: timeDeltas[i + 1].
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  const attributed = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') idle += us;
    const file = url.replace(/^file:\/\//, '');
    const where = file ? `${shortPath(file)}:${lineNumber + 1}` : '';
    const name = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const pkg = packageOf(file, functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    let owner = pkg;
    for (let at: number | undefined = id; at !== undefined && !isUserland(owner); at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      owner = packageOf(frame.url.replace(/^file:\/\//, ''), frame.functionName);
    }
    attributed.set(isUserland(owner) ? owner : pkg, (attributed.get(isUserland(owner) ? owner : pkg) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, share: us / total, ms: us / 1000 }));
  return {
    totalMs: total / 1000,
    busyShare: 1 - idle / total,
    functions: rank(functions),
    packages: rank(packages),
    attributed: rank(attributed),
  };
}

/** A package or a Trackline directory, as opposed to Node internals, native code and V8 pseudo-frames. */
function isUserland(owner: string): boolean {
  return !owner.startsWith('(') && owner !== 'node internals';
}

function shortPath(file: string): string {
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) return file.slice(nm + '/node_modules/'.length);
  const src = file.search(/\/(src|bench)\//);
  return src >= 0 ? file.slice(src + 1) : file;
}

/** node_modules package, Trackline's own src/<dir>, node internals, or V8's pseudo-frames. */
function packageOf(file: string, functionName: string): string {
  if (!file) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file.slice(file.lastIndexOf('/node_modules/')));
  if (nm) return nm[1];
  const src = /\/src\/([^/]+)/.exec(file);
  if (src) return `trackline src/${src[1]}`;
  if (file.startsWith('node:')) return 'node internals';
  return file;
}

/** The top costs in the newest (largest) CPU profile in `dir`, as report notes. */
export function describeProfile(label: string, dir: string): string[] {
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size)[0];
  if (!file) return [`no CPU profile was written to ${dir}`];
  const s = summarizeProfile(join(dir, file), 12);
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const rel = relative(ROOT, join(dir, file));
  return [
    // Node internals and native code (socket writes, GC) are charged to the package that called
    // them: "postgres 30%" then means the Postgres client and the syscalls it made.
    `${label} CPU profile (${rel}): ${pct(s.busyShare)} of ${Math.round(s.totalMs / 1000)} s busy. By package, internals charged to their caller: ${s.attributed.map((p) => `${p.name} ${pct(p.share)}`).join(', ')}.`,
    `${label} CPU profile, top functions by self time: ${s.functions.map((f) => `${f.name} ${pct(f.share)}`).join('; ')}.`,
  ];
}
