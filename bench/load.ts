import { compiled } from './compiled.ts';
import { execFile, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * HTTP load from wrk, driven by a Lua script that replays pre-generated requests.
 *
 * Why wrk and not autocannon: on a 2-core machine the load generator competes with the server,
 * Postgres and Redis for CPU. wrk is C on epoll and needs a fraction of a core for tens of
 * thousands of requests per second; autocannon is JavaScript and needs about one whole core, which
 * would starve the system under test and flatter the plain reference endpoint the most.
 *
 * Each request in the file is distinct (its own body and headers), so a receiver that
 * deduplicates never sees a repeat unless the run outlasts the file; repeats are then visible as
 * non-202 answers in `statuses`.
 */

export interface LoadRequest {
  headers: Record<string, string>;
  body: string;
}

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
}

export function wrkAvailable(): boolean {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
}

export function wrkVersion(): string | null {
  const out = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (out.error) return null;
  return /wrk\s+(\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown';
}

/**
 * Writes requests as one line each: tab-separated `name: value` headers, then the body. Bodies
 * and header values must not hold tabs or newlines (JSON from json.dumps and JSON.stringify does
 * not: both escape control characters).
 */
export async function writeRequests(path: string, requests: Iterable<LoadRequest>): Promise<number> {
  const out = createWriteStream(path);
  let count = 0;
  for (const r of requests) {
    const line = `${Object.entries(r.headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\t')}\t${r.body}\n`;
    if (/[\t\n]/.test(r.body)) throw new Error('request bodies for wrk must not contain tabs or newlines');
    count++;
    if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return count;
}

// One wrk thread: a single epoll loop keeps up with 50 connections at these rates, and a second
// thread would take CPU from the server. Requests are pre-formatted at init so request() is O(1).
const SCRIPT = `
local reqs = {}
local n = 0
statuses = {}
local path = "/"

init = function(args)
  path = args[2]
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    local headers = {}
    local body = nil
    local fields = {}
    for field in string.gmatch(line, "[^\\t]+") do fields[#fields + 1] = field end
    for i = 1, #fields - 1 do
      local colon = string.find(fields[i], ": ", 1, true)
      headers[string.sub(fields[i], 1, colon - 1)] = string.sub(fields[i], colon + 2)
    end
    body = fields[#fields]
    reqs[#reqs + 1] = wrk.format("POST", path, headers, body)
  end
  f:close()
end

request = function()
  n = n + 1
  if n > #reqs then n = 1 end
  return reqs[n]
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

done = function(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do merged[tostring(k)] = (merged[tostring(k)] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do parts[#parts + 1] = string.format('"%s": %d', k, v) end
  io.write(string.format('WRK_JSON {"requests": %d, "duration_us": %d, "p50": %d, "p90": %d, "p99": %d, "mean": %f, "max": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, "statuses": {%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout, table.concat(parts, ", ")))
end
`;

export async function runWrk(options: {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  path: string;
  requestsFile: string;
  connections: number;
  durationS: number;
  timeoutS?: number;
}): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'trackline-wrk-'));
  const script = join(dir, 'replay.lua');
  writeFileSync(script, SCRIPT);
  try {
    const args = [
      '-t1',
      `-c${options.connections}`,
      `-d${options.durationS}s`,
      `--timeout=${options.timeoutS ?? 10}s`,
      '--latency',
      '-s',
      script,
      `${options.url}${options.path}`,
      '--',
      options.requestsFile,
      options.path,
    ];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('wrk', args, { maxBuffer: 16 * 1024 * 1024, timeout: (options.durationS + 60) * 1000 }, (error, out, err) => {
        if (error) reject(new Error(`wrk failed: ${error.message}\n${err}`));
        else resolve(out);
      });
    });
    const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
    if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
    const raw = JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number> & { statuses: Record<string, number> };
    const durationS = raw.duration_us / 1e6;
    return {
      requests: raw.requests,
      durationS,
      rps: raw.requests / durationS,
      latencyMs: { p50: raw.p50 / 1000, p90: raw.p90 / 1000, p99: raw.p99 / 1000, mean: raw.mean / 1000, max: raw.max / 1000 },
      statuses: raw.statuses,
      socketErrors: { connect: raw.connect, read: raw.read, write: raw.write, timeout: raw.timeout },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Open-loop load: requests sent on a fixed schedule (`ratePerS`), whatever the answers do, each
 * timed from its scheduled send to its answer. This is latency below saturation; wrk's closed
 * loop (a new request only when one is answered) measures the saturated server, where latency is
 * mostly the queue of the other 49 connections. The schedule runs in a process of its own
 * (bench/open-loop-client.ts says why).
 */
export async function openLoop(options: {
  url: string;
  path: string;
  requests: LoadRequest[];
  ratePerS: number;
}): Promise<{ latenciesMs: number[]; inScheduleOrder: number[]; statuses: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'trackline-open-loop-'));
  const file = join(dir, 'requests.txt');
  try {
    await writeRequests(file, options.requests);
    const client = await compiled('bench/open-loop-client.ts');
    const expectedS = options.requests.length / options.ratePerS;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [client, file, options.url, options.path, String(options.ratePerS)],
        { maxBuffer: 64 * 1024 * 1024, timeout: (expectedS + 60) * 1000 },
        (error, out, err) => {
          if (error) reject(new Error(`open-loop client failed: ${error.message}\n${err}`));
          else resolve(out);
        },
      );
    });
    const line = stdout.split('\n').find((l) => l.startsWith('OPEN_LOOP_JSON '));
    if (!line) throw new Error(`open-loop client printed no result:\n${stdout}`);
    const result = JSON.parse(line.slice('OPEN_LOOP_JSON '.length)) as { latenciesMs: number[]; statuses: Record<string, number> };
    // Sorted for the percentiles; in schedule order (-1: no answer) for where the slow ones sit.
    const answered = result.latenciesMs.filter((ms) => ms >= 0);
    return { latenciesMs: answered.sort((a, b) => a - b), inScheduleOrder: result.latenciesMs, statuses: result.statuses };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
