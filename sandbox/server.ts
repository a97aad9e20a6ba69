// The sandbox: one HTTP server that impersonates the issue trackers for tests and benchmarks.
// Each tracker answers on its real API root, so one base URL serves them all without clashes:
// Plane on /api/v1/ (a Plane client's base_url is the sandbox URL itself); GitHub and Jira will
// follow on their own roots (e.g. GitHub Enterprise's /api/v3/, Jira's /rest/). The frame around
// every tracker request does what is common to all trackers: parse and log the request, and apply
// injected faults before the tracker sees it. Authentication and rate limiting belong to each
// tracker, because their order and wire format differ (Plane authenticates before it throttles,
// as DRF does).
//
// Control routes for tests live under /_sandbox/ and are not logged.

import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { z } from 'zod';
import { ConnectionResetError, Faults, faultSpecSchema, performFault, waitOrAbort } from './faults.ts';
import { createRequestLog, redactHeaders, type RequestLog } from './request-log.ts';
import { RateLimiter, type RateLimitConfig } from './rate-limit.ts';
import { PlaneApiError, type PlaneStoreOptions, type SeedProjectInput } from './plane/model.ts';
import { PlaneStore } from './plane/store.ts';
import { issueToJson } from './plane/serialize.ts';
import { createPlaneMount } from './plane/routes.ts';
import { PlaneGroups } from './plane/groups.ts';
import { createJiraSandbox, type JiraSandboxOptions } from './jira/control.ts';
import type { JiraStore } from './jira/store.ts';
import type { JiraWebhookSender } from './jira/webhooks.ts';
import { createGitHubSandbox, type GitHubSandbox } from './github/routes.ts';
import { PlaneWebhookSender, type PlaneWebhookSenderOptions } from './plane/webhooks.ts';
import { createPlaneWebhookControl } from './plane/webhook-control.ts';
import type { SandboxEnv, TrackerMount } from './mount.ts';

export type { SandboxEnv, TrackerMount } from './mount.ts';

export interface SandboxOptions {
  /** Disabled by default; `{ requests, perMs }` turns on per-key limiting for every tracker. */
  rateLimit?: RateLimitConfig;
  /** Most requests kept in the log (oldest dropped first). */
  logLimit?: number;
  plane?: PlaneStoreOptions & { maxPerPage?: number };
  /** Retry delay and limits for the Plane webhook sender (no webhooks go out until one is registered). */
  planeWebhooks?: PlaneWebhookSenderOptions;
  /** Jira (REST v3 on /rest/api/3): store options, search page cap, webhook retry timing. */
  jira?: JiraSandboxOptions;
}

export interface ListeningSandbox {
  /** e.g. "http://127.0.0.1:41234"; also the base_url for a Plane client. */
  url: string;
  /** Stops listening, drops keep-alive sockets and ends hanging timeout faults. */
  close(): Promise<void>;
}

export interface Sandbox {
  app: Hono<SandboxEnv>;
  plane: PlaneStore;
  /** GitHub (REST on /api/v3, GraphQL on /api/graphql): its store, limits and webhook sender. */
  github: GitHubSandbox;
  /** Plane's outbound webhooks: register receivers, pause, drain, read what was sent. */
  planeWebhooks: PlaneWebhookSender;
  /** Plane's cycles and modules and which work items are in them. */
  planeGroups: PlaneGroups;
  /** Jira Cloud: projects, workflow, issues (seedProject, editAsPerson, transitionAsPerson...). */
  jira: JiraStore;
  /** Jira's outbound webhooks: register `{url, secret}` targets, drain, read what was sent. */
  jiraWebhooks: JiraWebhookSender;
  faults: Faults;
  log: RequestLog;
  rateLimit: RateLimiter;
  listen(port?: number, host?: string): Promise<ListeningSandbox>;
}

const rateLimitSchema = z.union([
  z.object({ disabled: z.literal(true) }).strict(),
  z.object({ requests: z.number().int().min(1), perMs: z.number().positive() }).strict(),
]);

export function createSandbox(options: SandboxOptions = {}): Sandbox {
  const plane = new PlaneStore(options.plane);
  const planeWebhooks = new PlaneWebhookSender(plane, options.planeWebhooks);
  const planeGroups = new PlaneGroups(plane);
  const faults = new Faults();
  const log = createRequestLog(options.logLimit);
  const rateLimit = new RateLimiter(options.rateLimit);
  // Aborted by close(), so timeout faults still hanging end with the server.
  const shutdowns = new Set<AbortController>();

  const mounts: TrackerMount[] = [
    createPlaneMount({ store: plane, groups: planeGroups, rateLimit, maxPerPage: options.plane?.maxPerPage }),
  ];
  const jira = createJiraSandbox(rateLimit, options.jira);
  mounts.push(jira.mount);
  const github = createGitHubSandbox();
  mounts.push(github.mount);

  const app = new Hono<SandboxEnv>();

  app.onError((err, c) => {
    // A reset fault without a socket (in-process call): let the caller's promise reject, which is
    // the closest thing to a dropped connection.
    if (err instanceof ConnectionResetError) throw err;
    console.error('[sandbox] unhandled error', err);
    return c.json({ error: 'sandbox internal error', message: String(err) }, 500);
  });

  registerControlRoutes(app, { plane, faults, log, rateLimit });
  app.route('/_sandbox/plane/webhooks', createPlaneWebhookControl(planeWebhooks));

  const ownerOf = (path: string) => mounts.find((m) => m.roots.some((r) => path === r || path.startsWith(`${r}/`)));

  const frame: MiddlewareHandler<SandboxEnv> = async (c, next) => {
    const at = new Date().toISOString();
    const url = new URL(c.req.url);
    const path = url.pathname;
    const method = c.req.method;
    const mount = ownerOf(path)!;

    const rawBody = method === 'GET' || method === 'HEAD' ? '' : await c.req.text();
    let body: unknown;
    let bodyError: string | undefined;
    if (rawBody.trim() !== '') {
      try {
        body = JSON.parse(rawBody);
      } catch (e) {
        bodyError = (e as Error).message;
      }
    }
    c.set('tracker', mount.name);
    c.set('rawBody', rawBody);
    c.set('body', body);
    c.set('bodyError', bodyError);

    const record = (status: number) =>
      log.record({
        at,
        answeredAt: new Date().toISOString(),
        tracker: mount.name,
        method,
        path,
        query: Object.fromEntries(url.searchParams),
        headers: redactHeaders(c.req.raw.headers),
        body: body ?? null,
        status,
      });

    const fault = faults.take(mount.name, method, path);
    if (!fault) {
      await next();
      record(c.res.status);
      return;
    }

    // Ends the fault's wait when the client disconnects or the sandbox closes.
    const shutdown = new AbortController();
    shutdowns.add(shutdown);
    const signal = AbortSignal.any(c.env?.incoming ? [shutdown.signal, c.req.raw.signal] : [shutdown.signal]);
    // Nothing to send (socket gone): tells @hono/node-server not to write a response.
    const nothing = () => new Response(null, { headers: { 'x-hono-already-sent': 'true' } });
    try {
      if (fault.delayAfterMs !== undefined) {
        await next();
        if (await waitOrAbort(fault.delayAfterMs, signal)) {
          record(c.res.status);
        } else {
          record(0);
          c.res = nothing();
        }
        return;
      }
      const response = await performFault(fault, {
        socket: c.env?.incoming?.socket as Socket | undefined,
        signal,
        render: mount.renderError,
      });
      record(response ? response.status : 0);
      return response ?? nothing();
    } catch (err) {
      if (err instanceof ConnectionResetError) record(0);
      throw err;
    } finally {
      shutdowns.delete(shutdown);
    }
  };

  for (const mount of mounts) {
    for (const root of mount.roots) app.use(`${root}/*`, frame);
    app.route('/', mount.app);
  }

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    const mount = ownerOf(path);
    if (mount) return mount.notFound(c, path);
    return c.json({ error: `no sandbox route for ${c.req.method} ${path}` }, 404);
  });

  const listen = (port = 0, host = '127.0.0.1'): Promise<ListeningSandbox> =>
    new Promise((resolve, reject) => {
      const sockets = new Set<Socket>();
      const server = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
        const hostPart = host.includes(':') ? `[${host}]` : host;
        const url = `http://${hostPart}:${info.port}`;
        resolve({ url, close: () => close(server as Server, sockets) });
      });
      server.on('error', reject);
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
    });

  const close = (server: Server, sockets: Set<Socket>): Promise<void> =>
    new Promise((resolve) => {
      for (const s of shutdowns) s.abort();
      plane.dispose();
      jira.dispose();
      github.dispose();
      planeWebhooks.dispose();
      server.close(() => resolve());
      // Keep-alive sockets would hold close() open until the client lets go; tests want it now.
      server.closeAllConnections?.();
      for (const socket of sockets) socket.destroy();
    });

  return { app, plane, jira: jira.store, jiraWebhooks: jira.webhooks, github, planeWebhooks, planeGroups, faults, log, rateLimit, listen };
}

interface ControlDeps {
  plane: PlaneStore;
  faults: Faults;
  log: RequestLog;
  rateLimit: RateLimiter;
}

function registerControlRoutes(app: Hono<SandboxEnv>, { plane, faults, log, rateLimit }: ControlDeps): void {
  const readJson = async (c: Context<SandboxEnv>): Promise<unknown> => {
    const text = await c.req.text();
    return text.trim() === '' ? {} : JSON.parse(text);
  };
  const invalid = (c: Context<SandboxEnv>, error: unknown) =>
    c.json({ error: error instanceof z.ZodError ? error.issues : String(error) }, 400);

  app.get('/_sandbox/requests', (c) => {
    const status = c.req.query('status');
    return c.json(
      log.entries({
        tracker: c.req.query('tracker'),
        method: c.req.query('method'),
        pathIncludes: c.req.query('pathIncludes'),
        status: status === undefined ? undefined : Number(status),
      }),
    );
  });
  app.delete('/_sandbox/requests', (c) => {
    log.clear();
    return c.body(null, 204);
  });

  app.get('/_sandbox/faults', (c) => c.json(faults.pending()));
  app.post('/_sandbox/faults', async (c) => {
    try {
      return c.json(faults.inject(faultSpecSchema.parse(await readJson(c))), 201);
    } catch (e) {
      return invalid(c, e);
    }
  });
  app.delete('/_sandbox/faults', (c) => {
    faults.clear();
    return c.body(null, 204);
  });

  app.get('/_sandbox/rate-limit', (c) => c.json({ config: rateLimit.config, served429: rateLimit.served429 }));
  app.put('/_sandbox/rate-limit', async (c) => {
    try {
      rateLimit.configure(rateLimitSchema.parse(await readJson(c)));
      return c.json({ config: rateLimit.config, served429: rateLimit.served429 });
    } catch (e) {
      return invalid(c, e);
    }
  });

  app.post('/_sandbox/plane/projects', async (c) => {
    try {
      return c.json(plane.seedProject((await readJson(c)) as SeedProjectInput), 201);
    } catch (e) {
      return invalid(c, e);
    }
  });
  app.get('/_sandbox/plane/issues', (c) => {
    const project = c.req.query('project');
    const issues = [...plane.issues.values()].filter((i) => !i.deleted_at && (!project || i.project === project));
    return c.json(issues.map((i) => ({ ...issueToJson(plane, i), description_stripped: i.description_stripped })));
  });
  app.post('/_sandbox/plane/issues/:id/edit', async (c) => {
    let patch: unknown;
    try {
      patch = await readJson(c);
    } catch (e) {
      return invalid(c, e);
    }
    try {
      const issue = plane.editAsPerson(c.req.param('id'), patch as Record<string, unknown>, c.req.query('person'));
      return c.json(issueToJson(plane, issue));
    } catch (e) {
      if (e instanceof PlaneApiError) return c.json(e.body as object, e.status as 400);
      return invalid(c, e);
    }
  });
}
