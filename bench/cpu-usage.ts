import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { sleep } from './progress.ts';

/**
 * Where the CPU goes while a load phase runs: CPU time per request of each process taking part
 * (the server under test, Postgres, Redis, the load generator), and how busy the whole machine
 * was. A requests-per-second ratio says how far an endpoint is from the reference; this says why,
 * and whether the machine was out of CPU (then only cheaper requests help) or waiting (then more
 * concurrency or shorter waits help).
 *
 * Read from Linux's /proc (utime + stime in clock ticks, 100 per second on Linux), so a phase is
 * measured over a window of a few seconds, not request by request. Elsewhere `cpuAvailable()` is
 * false and the intake benchmark leaves these figures out.
 */

const TICKS_PER_SECOND = 100;

/**
 * The process groups a window is split into; anything else on the machine counts as "other".
 * "bench" is this benchmark's own process: in the sync sections, the sandbox tracker answering
 * Trackline's calls and the orchestrator posting events.
 */
export type CpuRole = 'server' | 'postgres' | 'redis' | 'load generator' | 'bench' | 'other';

export interface CpuSnapshot {
  at: number;
  /** utime + stime ticks of every process alive at the snapshot, by pid, with its role. */
  ticks: Map<number, { role: CpuRole; ticks: number }>;
  /** Machine-wide busy and total ticks from /proc/stat (all cores). */
  machineBusy: number;
  machineTotal: number;
}

export interface CpuWindow {
  seconds: number;
  /** CPU seconds per role within the window. */
  byRole: Record<CpuRole, number>;
  /** Busy share of all cores (0..1) over the window. */
  machineBusy: number;
  cores: number;
}

export function cpuAvailable(): boolean {
  try {
    readFileSync('/proc/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
}

function readStat(pid: string): { comm: string; ticks: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself hold spaces and parentheses.
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    // Fields after the name start at field 3 (state); utime and stime are fields 14 and 15.
    return { comm, ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null; // exited between readdir and read
  }
}

function roleOf(pid: number, comm: string, serverPid: number): CpuRole {
  if (pid === serverPid) return 'server';
  if (pid === process.pid) return 'bench';
  if (comm === 'postgres') return 'postgres';
  if (comm === 'redis-server') return 'redis';
  if (comm === 'wrk') return 'load generator';
  return 'other';
}

export function snapshot(serverPid: number): CpuSnapshot {
  const ticks = new Map<number, { role: CpuRole; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat) ticks.set(Number(entry), { role: roleOf(Number(entry), stat.comm, serverPid), ticks: stat.ticks });
  }
  // cpu  user nice system idle iowait irq softirq steal ...
  const machine = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = machine.slice(0, 8).reduce((a, b) => a + b, 0);
  return { at: performance.now(), ticks, machineBusy: total - machine[3] - machine[4], machineTotal: total };
}

export function between(a: CpuSnapshot, b: CpuSnapshot): CpuWindow {
  const byRole: Record<CpuRole, number> = { server: 0, postgres: 0, redis: 0, 'load generator': 0, bench: 0, other: 0 };
  for (const [pid, later] of b.ticks) {
    // A process born inside the window counts from zero (a new Postgres backend, say).
    const delta = later.ticks - (a.ticks.get(pid)?.ticks ?? 0);
    if (delta > 0) byRole[later.role] += delta / TICKS_PER_SECOND;
  }
  const machineTotal = b.machineTotal - a.machineTotal;
  return {
    seconds: (b.at - a.at) / 1000,
    byRole,
    machineBusy: machineTotal > 0 ? (b.machineBusy - a.machineBusy) / machineTotal : 0,
    cores: availableParallelism(),
  };
}

/**
 * Waits until `serverPid` is working (over a third of a core for 200 ms): wrk spends its first
 * seconds reading the request file, and that start-up must not fall inside the window. Returns
 * false if the load never shows within `timeoutMs`.
 */
export async function waitForLoad(serverPid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let previous = readStat(String(serverPid))?.ticks ?? 0;
  while (Date.now() < deadline) {
    await sleep(200);
    const now = readStat(String(serverPid))?.ticks ?? previous;
    if (now - previous > TICKS_PER_SECOND * 0.2 * 0.33) return true;
    previous = now;
  }
  return false;
}

export type CpuPerRequest = Record<CpuRole, number> & {
  /** Server, Postgres, Redis and the load generator: the benchmark's own process and "other" (kernel threads, neighbours) are left out. */
  total: number;
};

/** CPU microseconds per request of each role, for a window in which `requests` were answered. */
export function perRequestUs(window: CpuWindow, requests: number): CpuPerRequest {
  const out = { total: 0 } as CpuPerRequest;
  for (const [role, seconds] of Object.entries(window.byRole) as [CpuRole, number][]) {
    out[role] = requests > 0 ? (seconds * 1e6) / requests : 0;
    if (role !== 'other' && role !== 'bench') out.total += out[role];
  }
  return out;
}
