import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack, CONNECTION_ID } from '../../bench/stack.ts';
import { runWrk, writeRequests } from '../../bench/load.ts';
import { eventRequests } from '../../bench/orchestrator.ts';
import { captureWebhookBody, signedWebhookRequests } from '../../bench/plane-webhooks.ts';

/**
 * Resident memory of `trackline api` (started as the bench starts it) at idle and at saturation:
 * 50 wrk connections posting one event a request, then signed Plane webhooks, `seconds` each.
 *   node --import tsx test/perf/api-rss.ts [seconds] [-- node args for the api...]
 * Prints VmRSS at idle (after start-up settles) and VmHWM (peak) after each phase, with the rates.
 * RSS_ENV='K=V,K=V' adds env to the api process. RSS_SIGNAL=SIGUSR2 sends that signal at idle and
 * halfway through the events phase (with `-- --heapsnapshot-signal=SIGUSR2`: two heap snapshots).
 */
const seconds = Number(process.argv[2] ?? 10);
const sep = process.argv.indexOf('--');
const nodeArgs = sep >= 0 ? process.argv.slice(sep + 1) : [];
const env = Object.fromEntries(
  (process.env.RSS_ENV ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => kv.split('=') as [string, string]),
);
const status = (pid: number) => {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(text)?.[1] ?? Number.NaN) / 1024;
  return { rss: kb('VmRSS').toFixed(1), hwm: kb('VmHWM').toFixed(1) };
};

/** CPU seconds the process used so far (user + system, from /proc/<pid>/stat). */
const cpuS = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

const stack = await Stack.open({ label: 'rss' });
const dir = mkdtempSync(join(tmpdir(), 'trackline-rss-'));
try {
  const api = await stack.spawn('api', { nodeArgs, env });
  await new Promise((r) => setTimeout(r, 3000));
  console.log(`idle: ${JSON.stringify(status(api.pid))}`);
  const signal = process.env.RSS_SIGNAL as NodeJS.Signals | undefined;
  if (signal) process.kill(api.pid, signal);
  const events = join(dir, 'events.txt');
  await writeRequests(events, eventRequests(`rss/${Date.now()}`, seconds * 8000));
  if (signal) setTimeout(() => process.kill(api.pid, signal), (seconds * 1000) / 2 + 2000);
  let cpu = cpuS(api.pid);
  const e = await runWrk({ url: api.url!, path: '/v1/events', requestsFile: events, connections: 50, durationS: seconds });
  const eCpu = ((cpuS(api.pid) - cpu) / e.requests) * 1e6;
  console.log(
    `events: ${Math.round(e.rps)}/s p99 ${e.latencyMs.p99.toFixed(1)} ms, ${eCpu.toFixed(0)} µs CPU/request ${JSON.stringify(e.statuses)}; ${JSON.stringify(status(api.pid))}`,
  );
  const template = await captureWebhookBody(stack);
  const hooks = join(dir, 'hooks.txt');
  await writeRequests(hooks, signedWebhookRequests(template, 'r', seconds * 8000));
  cpu = cpuS(api.pid);
  const w = await runWrk({ url: api.url!, path: `/webhooks/${CONNECTION_ID}`, requestsFile: hooks, connections: 50, durationS: seconds });
  const wCpu = ((cpuS(api.pid) - cpu) / w.requests) * 1e6;
  console.log(
    `webhooks: ${Math.round(w.rps)}/s p99 ${w.latencyMs.p99.toFixed(1)} ms, ${wCpu.toFixed(0)} µs CPU/request ${JSON.stringify(w.statuses)}; ${JSON.stringify(status(api.pid))}`,
  );
  await api.stop();
} finally {
  rmSync(dir, { recursive: true, force: true });
  await stack.close();
}
