import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { freePort, startPostgres, startRedis } from './support/servers.ts';
import { pythonJsonDumps } from '../../sandbox/plane/python-json.ts';
import { signPlaneWebhook } from '../../sandbox/plane/webhooks.ts';

/**
 * DESIGN 5.1 and 5.3 through outages of Trackline's own storage. This file stops and restarts
 * servers, so it runs on a Postgres and a Redis of its own (the harness reads their URLs when it
 * is first imported, hence the dynamic imports below).
 *
 * What the intake should answer while one is down:
 * - Redis down, Postgres up: the request is committed to Postgres, so it is durable, and the
 *   outbox sweep enqueues it once Redis is back. 202 is the honest answer ("accepted, will be
 *   kept"); a 503 would make the orchestrator resend what is already safe.
 * - Postgres down: nothing can be committed, so nothing may be accepted: 503 with Retry-After.
 * Either way the answer comes fast (no request waits on a dead server) and is never a 500.
 */
const pg = await startPostgres(await freePort());
const redis = await startRedis(await freePort());
process.env.TEST_PG_URL = pg.url;
process.env.TEST_REDIS_URL = redis.url;
const { startHarness, waitFor } = await import('../support/harness.ts');
const { spawnTrackline } = await import('../support/child-process.ts');
type Child = import('../support/child-process.ts').Child;
type Harness = Awaited<ReturnType<typeof startHarness>>;
const { duplicatedItems, remoteOf, localOf, label, waitSettled, LOCAL_STATES, rng } = await import('./support/fault-helpers.ts');
type Fields = import('./support/fault-helpers.ts').Fields;

const SECRET = 'plane_wh_outage_secret';
const ITEMS = 20;
const OUTAGE_MS = 10_000;
const LATENCY_BOUND_MS = 1000;

let h: Harness;
let apiUrl: string;
let queueErrors = 0;

beforeAll(async () => {
  h = await startHarness('faults_outage', {
    // Polling is the safety net for webhooks answered 503 (Plane does not resend those).
    // reopen = "allow": states are drawn at random, done included; the guard has its own tests.
    plane: { webhook_secret: SECRET, poll_interval: '1s', reopen: 'allow' },
    // Production-like retries: enough to outlast a 10 s outage without a job failing for good.
    config: {
      worker: { concurrency: 8, attempts: 8, backoff: '250ms', request_timeout: '2s', lock_duration: '3s', coalesce_window: '200ms' },
    },
  });
  apiUrl = await h.listenApi();
  // Trackline's Queue objects have no 'error' listener, so BullMQ prints every failed reconnect to
  // stderr (outside the structured log) while Redis is down; counted here instead of printed.
  for (const queue of h.runtime.queues.all()) queue.on('error', () => queueErrors++);
  h.sandbox.planeWebhooks.register({ url: `${apiUrl}/webhooks/plane-main`, secret: SECRET });
  // Twenty items, created and settled before the load starts.
  await h.postEvents({
    events: Array.from({ length: ITEMS }, (_, i) => ({
      type: 'item.upserted',
      item: { key: `out/${i}`, title: `out/${i}`, state: 'planned' },
    })),
  });
  await waitSettled(h, 20_000);
});

afterAll(async () => {
  // A failed test may leave a server stopped; the harness needs both to clean up.
  if (!redis.running) await redis.start();
  await pg.start().catch(() => {
    /* already running */
  });
  await h?.close();
  await pg.stop('immediate');
  await redis.stop();
});

interface Answer {
  /** The phase the request was sent in, and the one it was answered in. */
  phase: 'before' | 'during' | 'after';
  answeredIn: 'before' | 'during' | 'after';
  route: 'events' | 'webhook';
  status: number;
  ms: number;
  retryAfter: string | null;
  requestId: string | null;
  error?: string;
  /** For accepted events: the key and the fields asserted. */
  key?: string;
  fields?: { title: string; state: string };
}

/**
 * Load while a server is stopped: one loop posts orchestrator events (title and state), one makes
 * remote edits in Plane (labels only, so the two sides never conflict and the expected end state
 * is simply the last accepted value of each). Every request is bounded by a client timeout far
 * above the latency bound, so a hang shows as a failed answer rather than a stuck test.
 */
async function loadThrough(stopServer: () => Promise<void> | void, startServer: () => Promise<void> | void, seed: number) {
  const r = rng(seed);
  // Where each item starts (an earlier test may have moved it): the expected end state of an item
  // this run does not touch.
  const start = new Map<string, Required<Fields>>();
  for (let i = 0; i < ITEMS; i++) start.set(`out/${i}`, remoteOf(h, `out/${i}`)!);
  const answers: Answer[] = [];
  const lastLabels = new Map<string, string[]>();
  let phase: Answer['phase'] = 'before';
  let running = true;
  let seq = 0;

  const eventsLoop = (async () => {
    while (running) {
      const key = `out/${r.int(0, ITEMS - 1)}`;
      const fields = { title: `${key} #${++seq}`, state: r.pick(LOCAL_STATES) };
      const started = performance.now();
      const at = phase;
      try {
        const res = await fetch(`${apiUrl}/v1/events`, {
          method: 'POST',
          headers: { authorization: 'Bearer test-token-0123456789', 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'item.upserted', item: { key, ...fields } }),
          signal: AbortSignal.timeout(5_000),
        });
        await res.text();
        answers.push({
          phase: at,
          answeredIn: phase,
          route: 'events',
          status: res.status,
          ms: performance.now() - started,
          retryAfter: res.headers.get('retry-after'),
          requestId: res.headers.get('x-request-id'),
          key,
          fields,
        });
      } catch (error) {
        answers.push({
          phase: at,
          answeredIn: phase,
          route: 'events',
          status: 0,
          ms: performance.now() - started,
          retryAfter: null,
          requestId: null,
          error: (error as Error).message,
        });
      }
      await new Promise((res) => setTimeout(res, r.int(20, 80)));
    }
  })();

  // Signed webhooks posted directly, so their latency is measured too (the sandbox's own sender
  // does not time its requests). Each says "issue changed", which makes the worker re-read it.
  const webhookLoop = (async () => {
    while (running) {
      const key = `out/${r.int(0, ITEMS - 1)}`;
      const issue = h.sandbox.plane.issuesOf(h.project.projectId).find((i) => i.external_id === key)!;
      const body = pythonJsonDumps({
        event: 'issue',
        action: 'updated',
        webhook_id: 'fault-suite',
        workspace_id: issue.workspace,
        data: { id: issue.id },
        activity: { field: 'labels', nonce: randomUUID() },
      });
      const started = performance.now();
      const at = phase;
      try {
        const res = await fetch(`${apiUrl}/webhooks/plane-main`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-plane-event': 'issue',
            'x-plane-delivery': randomUUID(),
            'x-plane-signature': signPlaneWebhook(SECRET, body),
          },
          body,
          signal: AbortSignal.timeout(5_000),
        });
        await res.text();
        answers.push({
          phase: at,
          answeredIn: phase,
          route: 'webhook',
          status: res.status,
          ms: performance.now() - started,
          retryAfter: res.headers.get('retry-after'),
          requestId: res.headers.get('x-request-id'),
        });
      } catch (error) {
        answers.push({
          phase: at,
          answeredIn: phase,
          route: 'webhook',
          status: 0,
          ms: performance.now() - started,
          retryAfter: null,
          requestId: null,
          error: (error as Error).message,
        });
      }
      await new Promise((res) => setTimeout(res, r.int(50, 150)));
    }
  })();

  const labelNames = ['red', 'green', 'blue'];
  const remoteLoop = (async () => {
    while (running) {
      const key = `out/${r.int(0, ITEMS - 1)}`;
      const issue = h.sandbox.plane.issuesOf(h.project.projectId).find((i) => i.external_id === key)!;
      const names = r.subset(labelNames).sort();
      h.sandbox.plane.editAsPerson(issue.id, { labels: names.map((n) => label(h, n)) });
      lastLabels.set(key, names);
      await new Promise((res) => setTimeout(res, r.int(150, 400)));
    }
  })();

  await new Promise((res) => setTimeout(res, 3_000));
  phase = 'during';
  await stopServer();
  const stoppedAt = Date.now();
  await new Promise((res) => setTimeout(res, OUTAGE_MS));
  await startServer();
  phase = 'after';
  const outage = Date.now() - stoppedAt;
  await new Promise((res) => setTimeout(res, 3_000));
  running = false;
  await Promise.all([eventsLoop, remoteLoop, webhookLoop]);
  await h.sandbox.planeWebhooks.drain();
  return { answers, lastLabels, outage, start };
}

/** Each key's last accepted fields, in the order the requests were answered (one at a time). */
function lastAccepted(answers: Answer[]) {
  const last = new Map<string, { title: string; state: string }>();
  for (const a of answers) if (a.route === 'events' && a.status === 202 && a.key) last.set(a.key, a.fields!);
  return last;
}

async function expectEverythingKept({
  answers,
  lastLabels,
  start,
}: {
  answers: Answer[];
  lastLabels: Map<string, string[]>;
  start: Map<string, Required<Fields>>;
}) {
  // Every accepted request was recorded, once.
  const accepted = answers.filter((a) => a.route === 'events' && a.status === 202).map((a) => a.requestId!);
  const recorded = await h.sql<
    { request_id: string }[]
  >`select request_id from deliveries where direction = 'in' and kind = 'event' and request_id = any(${accepted})`;
  expect(recorded.map((r) => r.request_id).sort()).toEqual([...accepted].sort());
  // And nothing refused was recorded, except possibly the one request whose COMMIT was on the
  // wire as the server went down (its outcome is unknown to the api, so 503 is the safe answer;
  // the orchestrator's retry then repeats an upsert, which changes nothing).
  const refused = answers.filter((a) => a.status === 503).map((a) => a.requestId!);
  const keptAnyway = await h.sql<
    { request_id: string }[]
  >`select request_id from deliveries where direction = 'in' and kind = 'event' and request_id = any(${refused})`;
  expect(keptAnyway.length).toBeLessThanOrEqual(1);

  await waitSettled(h, 60_000);
  const want = lastAccepted(answers);
  // Remote edits whose webhooks were refused reach the item through polling; wait for that too.
  await waitFor(async () => {
    for (const [key, labels] of lastLabels)
      if (JSON.stringify((await localOf(h, key))?.labels ?? []) !== JSON.stringify(labels)) return false;
    return true;
  }, 30_000);
  await waitSettled(h, 30_000);
  const wrong: unknown[] = [];
  for (let i = 0; i < ITEMS; i++) {
    const key = `out/${i}`;
    const remote = remoteOf(h, key);
    const local = await localOf(h, key);
    const expected = {
      title: want.get(key)?.title ?? start.get(key)!.title,
      state: want.get(key)?.state ?? start.get(key)!.state,
      labels: lastLabels.get(key) ?? start.get(key)!.labels,
    };
    if (JSON.stringify(remote) !== JSON.stringify(expected) || local?.title !== expected.title || local?.state !== expected.state)
      wrong.push({ key, expected, remote, local });
  }
  expect(wrong).toEqual([]);
  expect(duplicatedItems(h)).toEqual([]);
}

function summary(answers: Answer[]) {
  const by = new Map<string, number>();
  for (const a of answers) by.set(`${a.phase} ${a.route} ${a.status}`, (by.get(`${a.phase} ${a.route} ${a.status}`) ?? 0) + 1);
  return Object.fromEntries(by);
}

describe('Redis stopped for 10 s under load', () => {
  it('the intake keeps answering fast, accepts what Postgres committed, and all of it is synced once Redis is back', async () => {
    h.sandbox.planeWebhooks.clearLog();
    const run = await loadThrough(
      () => redis.stop(),
      () => redis.start(),
      7,
    );
    const { answers, outage } = run;
    console.log(
      `[redis outage] ${outage} ms; answers: ${JSON.stringify(summary(answers))}; slowest ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms; ${queueErrors} queue connection errors`,
    );
    expect(outage).toBeGreaterThanOrEqual(OUTAGE_MS);
    expect(answers.filter((a) => a.phase === 'during' && a.route === 'webhook').length).toBeGreaterThan(20);
    for (const a of answers) {
      expect(a.error, JSON.stringify(a)).toBeUndefined();
      expect(a.ms, JSON.stringify(a)).toBeLessThan(LATENCY_BOUND_MS);
      // Postgres is up, so every event and webhook is committed: accepted, even while Redis is away.
      expect(a.status, JSON.stringify(a)).toBe(202);
    }
    // Plane's webhooks were answered too: committed and accepted (never a 5xx while Postgres is up).
    const hooks = h.sandbox.planeWebhooks.deliveries();
    expect(hooks.length).toBeGreaterThan(10);
    expect(hooks.filter((d) => d.status !== 202 && d.status !== 200)).toEqual([]);
    await expectEverythingKept(run);
  }, 150_000);
});

/**
 * Postgres outages run against a real `trackline start` process (api and workers together, as a
 * small install runs), so a crash of the process is seen as what it is. The single 10 s outage
 * usually passes; the driver bug described on the second test can hit it too, and then it fails
 * with the same TypeError in the process output.
 */
describe('Postgres stopped under load, against a `trackline start` process', () => {
  let child: Child;
  beforeAll(async () => {
    // The in-process workers step aside: the child does all the work from here on.
    await h.workers?.close();
    const port = await freePort();
    child = spawnTrackline(h, ['start', '--port', String(port)], { HOST: '127.0.0.1' });
    apiUrl = `http://127.0.0.1:${port}`;
    await waitFor(
      () =>
        fetch(`${apiUrl}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      30_000,
      200,
    );
    h.sandbox.planeWebhooks.clearTargets();
    h.sandbox.planeWebhooks.register({ url: `${apiUrl}/webhooks/plane-main`, secret: SECRET });
  });
  afterAll(async () => {
    if (child && child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGTERM');
      const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
      await child.exited;
      clearTimeout(timer);
    }
  });
  const alive = () => {
    const crashed = child.process.exitCode !== null || child.process.signalCode !== null;
    return crashed
      ? `trackline start exited (${child.process.exitCode ?? child.process.signalCode}):\n${child.output().slice(-2500)}`
      : 'alive';
  };

  it('stopped for 10 s: the intake answers 503 with Retry-After fast, never 500, accepts nothing it cannot keep, and the workers recover', async () => {
    h.sandbox.planeWebhooks.clearLog();
    const run = await loadThrough(
      () => pg.stop('fast'),
      () => pg.start(),
      11,
    );
    const { answers, outage } = run;
    console.log(
      `[postgres outage] ${outage} ms; answers: ${JSON.stringify(summary(answers))}; slowest ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms`,
    );
    expect(alive()).toBe('alive');
    expect(answers.filter((a) => a.phase === 'during').length).toBeGreaterThan(20);
    for (const a of answers) {
      expect(a.error, JSON.stringify(a)).toBeUndefined();
      expect(a.ms, JSON.stringify(a)).toBeLessThan(LATENCY_BOUND_MS);
      // 200 is a webhook answered as a duplicate of one recorded before.
      expect([200, 202, 503], JSON.stringify(a)).toContain(a.status);
      if (a.status === 503) expect(Number(a.retryAfter), JSON.stringify(a)).toBeGreaterThan(0);
      // Sent and answered before the stop: nothing stood in the way.
      if (a.answeredIn === 'before') expect(a.status, JSON.stringify(a)).toBe(202);
    }
    // While Postgres was down nothing could be committed, so (almost) everything was refused;
    // requests racing the stop may still have committed.
    const during = answers.filter((a) => a.phase === 'during' && a.answeredIn === 'during');
    expect(during.filter((a) => a.status === 503).length).toBeGreaterThan(during.length * 0.8);
    // The api serves again once Postgres is back.
    expect(
      answers
        .filter((a) => a.phase === 'after')
        .slice(-5)
        .every((a) => a.status === 202),
    ).toBe(true);
    // Plane's webhooks during the outage: 503, never 500 (Plane does not resend; polling catches up).
    const hooks = h.sandbox.planeWebhooks.deliveries();
    expect(hooks.filter((d) => ![200, 202, 503].includes(d.status))).toEqual([]);
    await expectEverythingKept(run);
    expect(alive()).toBe('alive');
  }, 150_000);

  /**
   * Found a bug in postgres.js 3.4.9 (the newest release; porsager/postgres#1154, #1208): when a
   * connection closes while a small write is queued for the next tick, the queued write ran on a
   * null socket and threw an uncaught TypeError that ended the process, and the write timer was
   * left set, so that pooled connection stopped sending until it timed out (each query on it waited
   * connect_timeout, 5 s). Restarting Postgres a few times under load reproduced it nearly every
   * run. patches/postgres+3.4.9.patch (applied at install by patch-package) fixes both.
   */
  it('restarted 6 times under concurrent load: the process survives and every request is answered within 1 s', async () => {
    const answers: { status: number; ms: number; error?: string }[] = [];
    let running = true;
    const loaders = Array.from({ length: 4 }, (_, n) =>
      (async () => {
        for (let i = 0; running; i++) {
          const started = performance.now();
          try {
            const res = await fetch(`${apiUrl}/v1/events`, {
              method: 'POST',
              headers: { authorization: 'Bearer test-token-0123456789', 'content-type': 'application/json' },
              body: JSON.stringify({ type: 'item.upserted', item: { key: `out/${(n * 5 + i) % ITEMS}`, title: `restart ${n}.${i}` } }),
              signal: AbortSignal.timeout(10_000),
            });
            await res.text();
            answers.push({ status: res.status, ms: performance.now() - started });
          } catch (error) {
            answers.push({ status: 0, ms: performance.now() - started, error: (error as Error).message });
          }
          await new Promise((res) => setTimeout(res, 10));
        }
      })(),
    );
    for (let i = 0; i < 6 && alive() === 'alive'; i++) {
      await new Promise((res) => setTimeout(res, 1_500));
      await pg.stop('fast');
      await new Promise((res) => setTimeout(res, 1_500));
      await pg.start();
    }
    await new Promise((res) => setTimeout(res, 2_000));
    running = false;
    await Promise.all(loaders);
    const slow = answers.filter((a) => a.ms >= LATENCY_BOUND_MS || a.status === 0);
    console.log(
      `[postgres restarts] ${answers.length} requests, ${slow.length} slower than ${LATENCY_BOUND_MS} ms or unanswered, slowest ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms; process ${alive() === 'alive' ? 'alive' : 'crashed'}`,
    );
    expect(alive()).toBe('alive');
    expect(answers.filter((a) => a.status >= 500 && a.status !== 503)).toEqual([]);
    expect(slow).toEqual([]);
  }, 120_000);
});
