import { AsyncLocalStorage } from 'node:async_hooks';
import { networkReason, safeJson } from '../http-client.ts';
import { Octokit } from '@octokit/core';
import { paginateRest } from '@octokit/plugin-paginate-rest';
import { restEndpointMethods } from '@octokit/plugin-rest-endpoint-methods';
import type { Pacer } from '../../pacing/pacer.ts';
import { RateLimitedError } from '../../pacing/rate-limited-error.ts';
import type { PacerRegistry } from '../../pacing/registry.ts';
import type { CallRecorder } from '../call-recorder.ts';
import { TrackerError, kindForStatus } from '../../sync/port/errors.ts';
import type { CallContext } from '../../sync/port/tracker.ts';
import { readGitHubSignals } from './rate-signals.ts';
import { GITHUB_API_VERSION } from './wire.ts';

/**
 * GitHub calls, for both the `github` and the `github-project` connection: Octokit for building
 * requests, paging and typed routes, with every request sent through our own fetch so that there is
 * exactly one pacing layer per token (docs/trackers.md 6: Octokit's throttling plugin would be a
 * second, stacked one; none of its retry or throttling plugins is loaded).
 *
 * Our fetch does what HttpClient does for Plane: pace through the token's Pacer (shared through
 * Redis by every process), time out, record the call, read GitHub's rate signals and pause the
 * token when GitHub says so, and turn failures into TrackerErrors. Octokit wraps whatever fetch
 * throws in its own RequestError; the request hook unwraps ours again.
 */
export const GitHubOctokit = Octokit.plugin(restEndpointMethods, paginateRest);
export type GitHubOctokit = InstanceType<typeof GitHubOctokit>;

export interface GitHubTransportOptions {
  connectionId: string;
  baseUrl: string;
  token: string;
  /** Every request: within the primary budget's window (or only paused, when pacing is off); reads are not spaced. */
  pacer: Pacer;
  /**
   * Content-creating requests (POST/PATCH/PUT/DELETE, GraphQL mutations): one at a time across
   * every process, the next one sent at least a second after the previous one was answered ("wait
   * at least one second between each request", trackers.md 3.5), including two writes of one
   * create. Null when the connection turns pacing off (sandbox, benchmarks).
   */
  mutationPacer: Pacer | null;
  recorder: CallRecorder;
  timeoutMs: number;
}

/** Secondary limits without retry-after seen in a row, per token (pacer id), in this process. */
const secondaryStrikes = new Map<string, number>();

interface CallScope {
  deliveryId?: string;
}

/** GraphQL errors GitHub answers with HTTP 200 (trackers.md 3.5: even the rate limit is a 200). */
export interface GraphqlError {
  type?: string;
  message: string;
  path?: Array<string | number>;
}

export class GitHubTransport {
  readonly octokit: GitHubOctokit;
  private readonly scope = new AsyncLocalStorage<CallScope>();
  private readonly graphqlBase: string;

  constructor(readonly options: GitHubTransportOptions) {
    const baseUrl = options.baseUrl.replace(/\/+$/, '');
    // GitHub Enterprise serves REST on /api/v3 and GraphQL on /api/graphql; github.com on / and /graphql.
    this.graphqlBase = baseUrl.replace(/\/api\/v3$/, '/api');
    this.octokit = new GitHubOctokit({
      auth: options.token,
      baseUrl,
      userAgent: 'trackline',
      request: { fetch: this.fetch },
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    });
    this.octokit.hook.wrap('request', async (request, requestOptions) => {
      try {
        return await request(requestOptions);
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause;
        if (cause instanceof TrackerError || cause instanceof RateLimitedError) throw cause;
        // 304 is a success for a conditional request (trackers.md 3.5); Octokit throws it.
        const status = (error as { status?: number }).status;
        if (status === 304) {
          const response = (error as { response?: { headers?: Record<string, string> } }).response;
          return { status: 304, url: String(requestOptions.url), headers: response?.headers ?? {}, data: undefined } as never;
        }
        throw error;
      }
    });
    this.octokit.hook.before('request', (requestOptions) => {
      requestOptions.headers['x-github-api-version'] = GITHUB_API_VERSION;
    });
  }

  /** Runs `fn` with the call context, so every request it makes is recorded under the delivery. */
  run<T>(ctx: CallContext | undefined, fn: () => Promise<T>): Promise<T> {
    return this.scope.run({ deliveryId: ctx?.deliveryId }, fn);
  }

  /**
   * A GraphQL call through the same pacing. Answers data and headers (scopes for `check`); GraphQL
   * errors become TrackerErrors by their `type`.
   */
  async graphql<T>(query: string, variables: Record<string, unknown>): Promise<{ data: T; headers: Record<string, string | undefined> }> {
    const res = await this.octokit.request('POST /graphql', { baseUrl: this.graphqlBase, query, variables });
    const body = res.data as { data?: T; errors?: GraphqlError[] };
    if (body.errors?.length) throw graphqlError(body.errors, res.headers as Record<string, string | undefined>);
    return { data: body.data as T, headers: res.headers as Record<string, string | undefined> };
  }

  private readonly fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init.method ?? 'GET').toUpperCase();
    const { pacer, mutationPacer } = this.options;
    const send = () => pacer.schedule(() => this.send(url, method, init));
    return mutationPacer && isContentCreating(method, url.pathname, init.body) ? mutationPacer.schedule(send) : send();
  };

  private async send(url: URL, method: string, init: RequestInit): Promise<Response> {
    const { connectionId, recorder, timeoutMs, pacer, mutationPacer } = this.options;
    const deliveryId = this.scope.getStore()?.deliveryId;
    const path = url.pathname;
    const started = performance.now();
    const at = new Date();
    let response: Response;
    try {
      const timeout = AbortSignal.timeout(timeoutMs);
      response = await fetch(url, { ...init, signal: init.signal ? AbortSignal.any([timeout, init.signal]) : timeout });
    } catch (error) {
      const durationMs = Math.round(performance.now() - started);
      const timedOut = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError';
      const message = timedOut ? `no answer within ${timeoutMs} ms` : `network error: ${networkReason(error)}`;
      recorder.record({ connectionId, deliveryId, method, path, durationMs, error: message, at });
      throw new TrackerError(timedOut ? 'timeout' : 'network', `${method} ${path}: ${message}`, { method, path });
    }
    const text = await response.text();
    const durationMs = Math.round(performance.now() - started);
    const data = text ? safeJson(text) : null;
    const strikes = secondaryStrikes.get(pacer.options.id) ?? 0;
    const signals = readGitHubSignals(response.status, response.headers, data, Date.now(), strikes);
    if (signals.secondaryWithoutRetryAfter) secondaryStrikes.set(pacer.options.id, strikes + 1);
    else if (response.status < 400) secondaryStrikes.delete(pacer.options.id);

    const ok = response.status < 400;
    const graphqlErrors = ok && path.endsWith('/graphql') ? (data as { errors?: GraphqlError[] } | null)?.errors : undefined;
    const errorText = !ok
      ? describe(response.status, data, text)
      : graphqlErrors?.length
        ? graphqlErrors
            .map((e) => e.message)
            .join('; ')
            .slice(0, 300)
        : undefined;
    recorder.record({
      connectionId,
      deliveryId,
      method,
      path,
      status: response.status,
      durationMs,
      rateLimit: Object.keys(signals.keep).length ? signals.keep : undefined,
      error: errorText,
      at,
    });
    if (signals.pauseMs && signals.pauseMs > 0) {
      // One token, one budget: a secondary limit stops reads and writes alike.
      const reason = signals.reason ?? `GitHub ${response.status}`;
      await Promise.all([pacer.pause(signals.pauseMs, reason), mutationPacer?.pause(signals.pauseMs, reason)]);
    }
    if (!ok) {
      const kind = signals.limited ? 'rate_limited' : kindForStatus(response.status);
      throw new TrackerError(kind, `${method} ${path} answered ${response.status}: ${errorText}`, {
        status: response.status,
        retryAfterMs: signals.pauseMs,
        method,
        path,
      });
    }
    const headers = new Headers(response.headers);
    // The body is already decoded; these described the compressed bytes.
    headers.delete('content-encoding');
    headers.delete('content-length');
    const nullBody = response.status === 204 || response.status === 205 || response.status === 304;
    return new Response(nullBody ? null : text, { status: response.status, statusText: response.statusText, headers });
  }
}

/**
 * What GitHub counts as content-creating, which its secondary limits and "one second between
 * writes" rule are about (trackers.md 3.5): every non-GET REST call, and GraphQL mutations (a
 * GraphQL query is a read even though it is a POST).
 */
export function isContentCreating(method: string, path: string, body: unknown): boolean {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
  if (path.endsWith('/graphql') && typeof body === 'string') {
    try {
      return /^\s*mutation\b/.test(String((JSON.parse(body) as { query?: unknown }).query ?? ''));
    } catch {
      return true;
    }
  }
  return true;
}

function graphqlError(errors: GraphqlError[], headers: Record<string, string | undefined>): TrackerError {
  const first = errors[0]!;
  const message = `GitHub GraphQL: ${errors.map((e) => `${e.type ? `${e.type}: ` : ''}${e.message}`).join('; ')}`.slice(0, 500);
  switch (first.type) {
    case 'NOT_FOUND':
      return new TrackerError('not_found', message);
    case 'FORBIDDEN':
    case 'INSUFFICIENT_SCOPES':
      return new TrackerError('auth', message);
    case 'RATE_LIMITED': {
      // GraphQL answers its primary limit with 200 and this error (trackers.md 3.5).
      const reset = Number(headers['x-ratelimit-reset']);
      const retryAfterMs = Number.isFinite(reset) && reset > 0 ? Math.max(1000, reset * 1000 - Date.now()) : 60_000;
      return new TrackerError('rate_limited', message, { retryAfterMs });
    }
    default:
      return new TrackerError('client', message);
  }
}

function describe(status: number, data: unknown, text: string): string {
  if (data && typeof data === 'object') {
    const { message, errors } = data as { message?: unknown; errors?: unknown };
    if (typeof message === 'string') return (errors ? `${message} ${JSON.stringify(errors)}` : message).slice(0, 300);
    return JSON.stringify(data).slice(0, 300);
  }
  return text.slice(0, 300) || `HTTP ${status}`;
}

export interface GitHubTransportDeps {
  pacers: PacerRegistry;
  recorder: CallRecorder;
  timeoutMs: number;
}

/** The least time between two content-creating requests with one token (trackers.md 3.5). */
export const MUTATION_SPACING_MS = 1_000;

/** Calls per minute that keep a token under GitHub's 900 points per minute with writes a second apart. */
export const POINTS_SAFE_CALLS_PER_MINUTE = 600;

/**
 * Builds the transport for a token. Both GitHub connection kinds key their pacers by base URL and
 * token, so a `github` and a `github-project` connection sharing a token share one budget.
 * `budget` is the primary limit (`rate_limit` or the published 5,000 per hour); `undefined`
 * requests means pacing is off, and then writes are not spaced either.
 */
export function createGitHubTransport(
  connection: { id: string; base_url: string; token: string },
  budget: { requests?: number; perMs?: number },
  deps: GitHubTransportDeps,
): GitHubTransport {
  const credential = `github:${connection.base_url}:${connection.token}`;
  // Reads are not spaced, but a burst of them is capped below the secondary limit of 900 points
  // per minute (trackers.md 3.5: a read costs 1 point, a write 5): 600 calls a minute, of which
  // at most 60 are writes (a second apart), stay at or under 840 points.
  const pacer = deps.pacers.forCredential(
    credential,
    budget.requests ? { ...budget, extraWindows: [{ limit: POINTS_SAFE_CALLS_PER_MINUTE, perMs: 60_000 }] } : budget,
  );
  const mutationPacer = budget.requests
    ? deps.pacers.forCredential(`${credential}:writes`, {
        // The window counts a write from its answer (never earlier than it reached GitHub), and
        // one in flight blocks the next, so two writes never reach GitHub less than a second apart.
        requests: 1,
        perMs: MUTATION_SPACING_MS,
        maxInFlight: 1,
        inFlightTtlMs: deps.timeoutMs + 1_000,
      })
    : null;
  return new GitHubTransport({
    connectionId: connection.id,
    baseUrl: connection.base_url,
    token: connection.token,
    pacer,
    mutationPacer,
    recorder: deps.recorder,
    timeoutMs: deps.timeoutMs,
  });
}
