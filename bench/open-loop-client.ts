import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

/**
 * The open-loop load generator, run as a process of its own by `openLoop` in bench/load.ts:
 * requests sent on a fixed schedule whatever the answers do, each timed from its scheduled send to
 * the end of its answer.
 *
 * Why its own process: the bench process holds every earlier phase's results, requests and
 * connections, and runs the tail probes beside this phase; a GC pause or a busy turn of its event
 * loop delays the sends and the timing of the answers, and since every request is timed from its
 * scheduled moment (no coordinated omission), any such stall shows up as the server's latency.
 * A fresh process doing only this keeps the generator's own noise to its timer granularity, which
 * the plain endpoint's figure at the same rate shows.
 *
 * Usage: node --import tsx bench/open-loop-client.ts <requests file> <url> <path> <requests per second>
 * The requests file is the one wrk replays (bench/load.ts writeRequests). Prints one line:
 * `OPEN_LOOP_JSON {"latenciesMs": [...], "statuses": {...}}`, the latencies in the order the requests
 * were scheduled (-1 for one that failed).
 */
const [file, url, path, rate] = process.argv.slice(2);
const ratePerS = Number(rate);
if (!file || !url || !path || !(ratePerS > 0)) {
  console.error('usage: open-loop-client.ts <requests file> <url> <path> <requests per second>');
  process.exit(2);
}

const requests = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => line.length > 0)
  .map((line) => {
    const fields = line.split('\t');
    const body = Buffer.from(fields.pop()!);
    const headers: Record<string, string | number> = { 'content-length': body.length };
    for (const field of fields) {
      const colon = field.indexOf(': ');
      headers[field.slice(0, colon)] = field.slice(colon + 2);
    }
    return { headers, body };
  });

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const target = new URL(path, url);
/** By request, in schedule order: when the slow ones were sent tells a stall from a spread tail. */
const latenciesMs: number[] = new Array(requests.length).fill(-1);
const statuses: Record<string, number> = {};
const start = performance.now() + 20;
const inFlight: Promise<void>[] = [];
for (let i = 0; i < requests.length; i++) {
  const due = start + (i * 1000) / ratePerS;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const { headers, body } = requests[i];
  // From the scheduled moment, so a late send does not hide the server's queue; from the send
  // itself when a timer fired a little early.
  const from = Math.min(due, performance.now());
  inFlight.push(
    new Promise<void>((resolve) => {
      const req = request(target, { method: 'POST', agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          latenciesMs[i] = performance.now() - from;
          statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
          resolve();
        });
      });
      req.on('error', () => {
        statuses.error = (statuses.error ?? 0) + 1;
        resolve();
      });
      req.end(body);
    }),
  );
}
await Promise.all(inFlight);
agent.destroy();
process.stdout.write(`OPEN_LOOP_JSON ${JSON.stringify({ latenciesMs, statuses })}\n`);
