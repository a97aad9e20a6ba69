import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { ConfigSchema } from '../config/schema.ts';
import { parseEnv } from '../config/env.ts';
import { createRuntime } from '../runtime.ts';
import { startServer } from '../api/serve.ts';
import { startWorkers } from '../jobs/worker.ts';
import { UsageError } from './errors.ts';
import { startLocalServers } from './local-servers.ts';
import postgres from 'postgres';
import { DatabaseUnavailableError, describeConnectError } from '../db/client.ts';

const TOKEN = 'demo-token';
const WEBHOOK_SECRET = 'plane_wh_demo';
const GITHUB_TOKEN = 'ghp_demo_token';
const GITHUB_WEBHOOK_SECRET = 'gh_wh_demo';
const CALLBACK_SECRET = 'whsec_' + Buffer.from('trackline-demo-callback-secret').toString('base64');
const KEY = 'user-auth/WP02';
/** The work package whose pull request the demo opens and merges. */
const PR_KEY = 'user-auth/WP03';
const PR_BRANCH = 'feature/WP03';

/**
 * `trackline demo`: a newcomer's first ten minutes with no credentials. It starts the sandbox
 * tracker, Trackline and a stand-in orchestrator on this machine's Postgres and Redis (its own
 * database and key prefix), or on private ones when the machine has none (local-servers.ts), then
 * walks through the life of one work item, printing each step and where to look.
 */
export async function runDemo(values: Record<string, string | boolean | undefined>): Promise<number> {
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got "${values.port}"`);
  const local = await startLocalServers(process.env);
  for (const note of local.notes) console.log(note);
  try {
    return await demo({ ...process.env, ...local.env }, port, values);
  } finally {
    await local.stop();
  }
}

async function demo(
  source: Record<string, string | undefined>,
  port: number,
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  const env = parseEnv(source);
  const databaseUrl = env.DATABASE_URL.replace(/\/[^/?]*(\?|$)/, '/trackline_demo$1');
  const step = stepper();

  const { createSandbox } = await import('../../sandbox/server.ts');
  const sandbox = createSandbox();
  const project = sandbox.plane.seedProject({
    workspace: 'acme',
    identifier: 'ET',
    name: 'Example Team',
    apiKeys: ['plane_api_demo'],
    members: [{ email: 'alice@example.com', display_name: 'alice' }],
  });
  // A repository beside the Plane project: every item gets an issue there too, and a work package
  // on a branch gets a pull request.
  sandbox.github.store.seedRepo({
    owner: 'acme',
    ownerType: 'Organization',
    repo: 'app',
    tokens: [{ token: GITHUB_TOKEN, login: 'trackline-bot', scopes: ['repo'] }],
    collaborators: ['alice'],
    labels: ['todo', 'in-progress', 'in-review'],
  });
  const tracker = await sandbox.listen(0);
  const orchestrator = await startOrchestrator();

  const config = ConfigSchema.parse({
    api: { tokens: [TOKEN] },
    admin: { username: 'demo', password: 'demo' },
    orchestrator: { callback_url: orchestrator.url, secret: CALLBACK_SECRET },
    worker: { backoff: '200ms', attempts: 3, coalesce_window: '200ms' },
    connections: [
      {
        id: 'plane-main',
        tracker: 'plane',
        base_url: tracker.url,
        workspace: 'acme',
        project: project.projectId,
        api_key: 'plane_api_demo',
        webhook_secret: WEBHOOK_SECRET,
        conflict_strategy: 'manual',
        poll_interval: '0',
        rate_limit: 'off',
        state_map: { planned: 'Todo', doing: 'In Progress', for_review: 'In Review', done: 'Done' },
      },
      {
        id: 'gh-main',
        tracker: 'github',
        base_url: `${tracker.url}/api/v3`,
        owner: 'acme',
        repo: 'app',
        token: GITHUB_TOKEN,
        webhook_secret: GITHUB_WEBHOOK_SECRET,
        poll_interval: '0',
        rate_limit: 'off',
        state_map: { planned: 'todo', doing: 'in-progress', for_review: 'in-review', done: 'closed' },
        pull_requests: { auto_create: true, open_when: ['for_review'], state_map: { merged: 'done' } },
      },
    ],
  });
  // A clean slate each run: the demo owns this database (dropped and made anew, since the audit
  // trail cannot be truncated) and this Redis key prefix.
  await recreateDatabase(databaseUrl);
  const runtime = await createRuntime({
    role: 'all',
    config,
    env: {
      ...source,
      DATABASE_URL: databaseUrl,
      TRACKLINE_REDIS_PREFIX: '{trackline-demo}',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    },
  });
  for (const q of runtime.queues.all()) await q.obliterate({ force: true }).catch(() => {});
  let workers = await startWorkers(runtime, { sweepEveryMs: 5000 });
  let server;
  try {
    server = await startServer(runtime, port, '127.0.0.1');
  } catch {
    server = await startServer(runtime, 0, '127.0.0.1');
  }
  const api = server.url;
  sandbox.planeWebhooks.register({ url: `${api}/webhooks/plane-main`, secret: WEBHOOK_SECRET });
  sandbox.github.webhooks.register('acme', 'app', { url: `${api}/webhooks/gh-main`, secret: GITHUB_WEBHOOK_SECRET });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: the demo reads the API's JSON loosely, as a user's script would
    return { status: res.status, body: (await res.json()) as any };
  };
  const item = async (key = KEY) => (await call('GET', `/v1/items/${encodeURIComponent(key)}`)).body;
  type PairView = { connection: string; remoteId: string | null; remoteKey: string | null; url: string | null; status: string };
  const on = (view: { connections: PairView[] }, id: string) => view.connections.find((c) => c.connection === id);
  const until = async <T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const planeIssue = () => sandbox.plane.issuesOf(project.projectId).find((i) => i.external_id === KEY)!;
  const stateName = (id: string | null) => sandbox.plane.statesOf(project.projectId).find((s) => s.id === id)?.name;

  try {
    console.log(
      `Trackline demo: a sandbox Plane and GitHub at ${tracker.url}, Trackline at ${api}, an orchestrator stand-in at ${orchestrator.url}.\n`,
    );

    step(
      'The orchestrator creates a work item',
      `curl -X POST ${api}/v1/events -H 'authorization: Bearer ${TOKEN}' -d '{"type":"item.upserted","item":{"key":"${KEY}",...}}'`,
    );
    await call('POST', '/v1/events', {
      type: 'item.upserted',
      item: {
        key: KEY,
        kind: 'work_package',
        title: 'WP02: Models layer',
        body: 'Build the **models** layer.',
        state: 'planned',
        labels: ['backend'],
      },
      actor: 'agent:planner',
    });
    const created = await until('the Plane issue', async () => {
      const view = await item();
      return on(view, 'plane-main')?.status === 'synced' && on(view, 'gh-main')?.status === 'synced' ? view : null;
    });
    const createdOnPlane = on(created, 'plane-main')!;
    console.log(`   → Plane issue ${createdOnPlane.remoteKey} created once (external_id = item key): ${createdOnPlane.url}`);
    console.log(`   → and GitHub issue ${on(created, 'gh-main')!.remoteKey} (found again by a hidden marker after a crash)`);
    console.log(`   look: curl ${api}/v1/items/${encodeURIComponent(KEY)} -H 'authorization: Bearer ${TOKEN}'`);

    step(
      'The orchestrator moves it to "doing", into milestone "Sprint 1", and comments',
      'one event; Trackline writes only what changed, in one PATCH, joins the Plane cycle of that name (created since it is missing), then the comment',
    );
    await call('POST', '/v1/events', {
      type: 'item.upserted',
      item: { key: KEY, state: 'doing', milestone: 'Sprint 1' },
      comment: 'Stage: analysis -> development',
      actor: 'agent:planner',
    });
    const cycleName = () => {
      const id = sandbox.planeGroups.cycleOf.get(planeIssue().id);
      return id ? sandbox.planeGroups.cycles.get(id)?.name : undefined;
    };
    await until(
      'the update',
      async () =>
        stateName(planeIssue().state) === 'In Progress' &&
        sandbox.plane.commentsOf(planeIssue().id).length === 1 &&
        cycleName() === 'Sprint 1',
    );
    console.log(
      `   → Plane shows "${stateName(planeIssue().state)}" and the comment; its own write came back as a webhook and changed nothing (no echo).`,
    );
    console.log(`   → the work item joined Plane cycle "${cycleName()}" (POST …/cycles/{id}/cycle-issues/ {"issues": [id]}).`);

    step(
      'A person moves the issue in Plane',
      'Plane sends a signed webhook; Trackline verifies it, re-reads the issue and tells the orchestrator',
    );
    sandbox.plane.editAsPerson(planeIssue().id, {
      state: sandbox.plane.statesOf(project.projectId).find((s) => s.name === 'In Review')!.id,
    });
    const change = await until('the change feed', async () =>
      (await call('GET', '/v1/changes')).body.changes.find((c: { key: string }) => c.key === KEY),
    );
    console.log(
      `   → change #${change.id}: state "${change.fields.state.from}" → "${change.fields.state.to}" (state_map read backwards); the item is now "${(await item()).fields.state}"`,
    );
    const cb = await until('the callback', async () => orchestrator.received.find((r) => r.body.id === change.id));
    console.log(
      `   → the orchestrator got a Standard Webhooks callback (webhook-id ${cb.headers['webhook-id']}, signature ${cb.verified ? 'verified' : 'NOT verified'})`,
    );
    console.log(`   look: curl '${api}/v1/changes?after=0' -H 'authorization: Bearer ${TOKEN}'`);

    step('Both sides rename it before a sync: a conflict', 'this connection uses conflict_strategy = "manual", so it waits for a person');
    // Both edits land while no sync runs (workers held, Plane's webhook paused), as when two
    // people act within the same moment; then the sync sees both at once.
    await workers.close(5_000);
    sandbox.planeWebhooks.pause();
    sandbox.plane.editAsPerson(planeIssue().id, { name: 'WP02: Models (renamed in Plane)' });
    await call('POST', '/v1/events', { type: 'item.upserted', item: { key: KEY, title: 'WP02: Models layer v2' } });
    workers = await startWorkers(runtime, { sweepEveryMs: 5000 });
    const conflict = await until('the conflict', async () => (await call('GET', '/v1/conflicts?status=open')).body.conflicts[0]);
    sandbox.planeWebhooks.resume();
    console.log(
      `   → conflict #${conflict.id} on ${conflict.field}: local ${JSON.stringify(conflict.local)} vs Plane ${JSON.stringify(conflict.remote)}; neither side was overwritten`,
    );
    console.log(
      `   resolve: curl -X POST ${api}/v1/conflicts/${conflict.id}/resolve -H 'authorization: Bearer ${TOKEN}' -d '{"use":"remote","actor":"operator:demo"}'   (or: trackline resolve ${conflict.id} --use remote)`,
    );
    await call('POST', `/v1/conflicts/${conflict.id}/resolve`, { use: 'remote', actor: 'operator:demo' });
    await until('the resolution', async () => (await item()).fields.title === 'WP02: Models (renamed in Plane)');
    console.log(`   → resolved by operator:demo: the item took Plane's title; the audit trail says who decided`);

    step(
      'Plane refuses a write: a failed delivery, then a retry',
      'a 422 is permanent: it fails at once, with Plane’s reason, instead of retrying blindly',
    );
    sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', status: 422, times: 1 });
    await call('POST', '/v1/events', { type: 'item.upserted', item: { key: KEY, state: 'done' } });
    const failed = await until('the failed delivery', async () => (await call('GET', '/v1/deliveries?status=failed')).body.deliveries[0]);
    console.log(`   → delivery ${failed.id} failed after ${failed.attempts} attempt: ${failed.lastError}`);
    console.log(
      `   look: curl ${api}/v1/deliveries/${failed.id} -H 'authorization: Bearer ${TOKEN}'   (every attempt with its tracker calls)`,
    );
    await call('POST', `/v1/deliveries/${failed.id}/retry`, { actor: 'operator:demo' });
    await until('the retry', async () => stateName(planeIssue().state) === 'Done');
    console.log(`   → retried by operator:demo (also possible from Bull Board or: trackline replay ${failed.id}); Plane shows "Done"`);

    step(
      'The next work package opens its pull request, and the merge comes back as "done"',
      `${PR_KEY} names its branch; at "for_review" Trackline opens one pull request (open_when), a person merges it on GitHub`,
    );
    sandbox.github.pulls.pushBranch('acme', 'app', PR_BRANCH, 3);
    await call('POST', '/v1/events', {
      type: 'item.upserted',
      item: {
        key: PR_KEY,
        kind: 'work_package',
        title: 'WP03: API endpoints',
        body: 'Serve the models.',
        state: 'for_review',
        branch: PR_BRANCH,
      },
      actor: 'agent:implementer',
    });
    const opened = await until('the pull request', async () => {
      const view = await item(PR_KEY);
      return view.pullRequests?.[0]?.state && on(view, 'gh-main')?.remoteId ? view : null;
    });
    const pr = opened.pullRequests[0] as { number: number; url: string; head: string; base: string; state: string };
    const issueNumber = Number(on(opened, 'gh-main')!.remoteId);
    console.log(
      `   → pull request #${pr.number} opened from ${pr.head} → ${pr.base} (${pr.state}), once; its body says "Closes #${issueNumber}": ${pr.url}`,
    );
    const prPlaneIssue = () => sandbox.plane.issuesOf(project.projectId).find((i) => i.external_id === PR_KEY);
    const prLink = await until('the link on Plane', async () => {
      const found = prPlaneIssue();
      return found && sandbox.plane.links.of(found.id).find((l) => l.url === pr.url);
    });
    console.log(`   → Plane shows it on the work item as a link: "${prLink.title}"`);
    sandbox.github.pulls.merge('acme/app', pr.number, {}, 'alice');
    const mergedChange = await until('the merge', async () =>
      (await call('GET', '/v1/changes?limit=500')).body.changes.find(
        (c: { key: string; type: string; pullRequest?: { to: string } }) =>
          c.key === PR_KEY && c.type === 'item.pr_changed' && c.pullRequest?.to === 'merged',
      ),
    );
    console.log(
      `   → change #${mergedChange.id}: item.pr_changed "${mergedChange.pullRequest.from}" → "merged" by ${mergedChange.actor} (signed pull_request webhook)`,
    );
    await until(
      'the item done everywhere',
      async () =>
        (await item(PR_KEY)).fields.state === 'done' &&
        sandbox.github.store.issue('acme/app', issueNumber)?.state === 'closed' &&
        stateName(prPlaneIssue()?.state ?? null) === 'Done' &&
        sandbox.plane.links.of(prPlaneIssue()!.id).some((l) => l.url === pr.url && l.title?.endsWith('(merged)')),
      20_000,
    );
    console.log(
      `   → state_map merged = "done": the item is "done"; GitHub closed issue #${issueNumber} (Closes #${issueNumber}); Plane shows "Done" and the link reads "(merged)"`,
    );
    console.log(`   look: curl ${api}/v1/items/${encodeURIComponent(PR_KEY)} -H 'authorization: Bearer ${TOKEN}'   (pullRequests)`);

    const trail = (await call('GET', `/v1/items/${encodeURIComponent(KEY)}/activity`)).body.activity as {
      actor: string;
      action: string;
      field: string | null;
    }[];
    step('The audit trail', `${trail.length} entries, append-only (the database refuses UPDATE and DELETE)`);
    for (const a of trail.slice(-8)) console.log(`   ${a.actor.padEnd(22)} ${a.action}${a.field ? ` ${a.field}` : ''}`);

    console.log(`\nWhere to look next:
   API docs        ${api}/docs
   Bull Board      ${api}/admin/queues   (user demo, password demo)
   Metrics         ${api}/metrics
   Sandbox calls   ${tracker.url}/_sandbox/requests
   Every /v1 call takes: -H 'authorization: Bearer ${TOKEN}'`);
    const keep = values['keep-running'] ?? (process.stdout.isTTY && !values.exit);
    if (keep) {
      console.log('\nThe demo keeps running so you can look around. Ctrl-C stops it.');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    console.log('\n✓ demo finished');
    return 0;
  } finally {
    await server.close();
    await workers.close(5_000);
    await runtime.close();
    await tracker.close();
    await orchestrator.close();
  }
}

async function recreateDatabase(url: string): Promise<void> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`drop database if exists "${name.replace(/"/g, '""')}" with (force)`);
  } catch (error) {
    // A DATABASE_URL that points nowhere is one line (and never replaced by an embedded server).
    if ((error as { code?: string }).code?.startsWith('E'))
      throw new DatabaseUnavailableError(describeConnectError('PostgreSQL', new URL(url), error));
    throw error;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

function stepper() {
  let n = 0;
  return (title: string, detail: string) => {
    n += 1;
    console.log(`\n${n}. ${title}\n   ${detail}`);
  };
}

/** A stand-in orchestrator that checks each callback's signature as a real one would. */
async function startOrchestrator() {
  const verifier = new Webhook(CALLBACK_SECRET);
  const received: { headers: Record<string, string>; body: { id: string }; verified: boolean }[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verified = true;
      try {
        verifier.verify(raw, headers);
      } catch {
        verified = false;
      }
      received.push({ headers, body: JSON.parse(raw), verified });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/orchestrator`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
