import { Agent, request as undiciRequest } from 'undici';
import type { Pacer } from '../pacing/pacer.ts';
import type { CallRecorder } from './call-recorder.ts';
import { TrackerError, kindForStatus } from '../sync/port/errors.ts';

/**
 * What a tracker's response says about its budget. Each tracker reads its own headers (in its
 * folder); the client only acts on the result.
 */
export interface RateSignals {
  /** Wait this long before the next call (Retry-After, or until a reset when nothing is left). */
  pauseMs?: number;
  reason?: string;
  /** Response headers worth keeping on the tracker-call row. */
  keep: Record<string, string>;
  /** True when this response is a rate-limit refusal even if its status is not 429 (GitHub 403). */
  limited?: boolean;
}

export interface HttpClientOptions {
  connectionId: string;
  baseUrl: string;
  /** Auth and fixed headers; never logged. */
  headers: Record<string, string>;
  pacer: Pacer;
  recorder: CallRecorder;
  timeoutMs: number;
  readSignals(status: number, headers: ResponseHeaders): RateSignals;
  /** How a tracker's error body reads for an operator (short, no secrets). */
  describeError?(status: number, body: unknown): string | undefined;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** The delivery this call is part of, so operators can see every call of a job. */
  deliveryId?: string;
  /** Statuses the caller handles itself (e.g. Plane's 409 on a duplicate external id). */
  accept?: number[];
  headers?: Record<string, string>;
}

/**
 * The connections tracker calls go over (keep-alive, per origin), apart from the process's other
 * HTTP. Keep the undici dependency on the major Node bundles (6 for Node 20): loading undici makes
 * its Agent the process-wide dispatcher that Node's own fetch (Octokit, callbacks) then uses too,
 * and undici 7's Agent refused requests from Node 20's fetch ("invalid content-length header",
 * seen in test/faults/convergence.test.ts).
 */
const trackerAgent = new Agent();

/** A response's headers, read by name (case-insensitive), as the trackers' rate-signal readers need. */
export interface ResponseHeaders {
  get(name: string): string | null;
}

export interface HttpResponse<T> {
  status: number;
  headers: ResponseHeaders;
  data: T;
}

/**
 * A small HTTP client: paced, timed out, recorded, and turning every failure into a TrackerError
 * that says whether a retry can help. Used instead of the Plane SDK, which drops the response
 * headers the pacer needs (docs/trackers.md section 6). It sends with undici's `request`, the
 * client under Node's fetch without the WHATWG Request/Response/stream layers, which were about a
 * tenth of a busy worker's CPU (bench/sync.ts profile); keep-alive connections are undici's.
 */
export class HttpClient {
  constructor(readonly options: HttpClientOptions) {}

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse<T>> {
    const { pacer } = this.options;
    return pacer.schedule(() => this.send<T>(method, path, opts));
  }

  private async send<T>(method: string, path: string, opts: RequestOptions): Promise<HttpResponse<T>> {
    const { connectionId, baseUrl, recorder, timeoutMs } = this.options;
    const url = new URL(baseUrl.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const started = performance.now();
    const at = new Date();
    let status: number;
    let headers: ResponseHeaders;
    let text: string;
    try {
      const response = await undiciRequest(url, {
        method: method as never,
        headers: {
          accept: 'application/json',
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...this.options.headers,
          ...opts.headers,
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
        dispatcher: trackerAgent,
      });
      status = response.statusCode;
      headers = headerReader(response.headers);
      text = await response.body.text();
    } catch (error) {
      const durationMs = Math.round(performance.now() - started);
      const timedOut = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError';
      const message = timedOut ? `no answer within ${timeoutMs} ms` : `network error: ${networkReason(error)}`;
      recorder.record({ connectionId, deliveryId: opts.deliveryId, method, path, durationMs, error: message, at });
      throw new TrackerError(timedOut ? 'timeout' : 'network', `${method} ${path}: ${message}`, { method, path });
    }
    const durationMs = Math.round(performance.now() - started);
    const signals = this.options.readSignals(status, headers);
    const data = text ? safeJson(text) : null;
    const ok = (status >= 200 && status < 300) || status === 304 || opts.accept?.includes(status);
    const errorText = ok ? undefined : this.describe(status, data, text);
    recorder.record({
      connectionId,
      deliveryId: opts.deliveryId,
      method,
      path,
      status,
      durationMs,
      rateLimit: Object.keys(signals.keep).length ? signals.keep : undefined,
      error: errorText,
      at,
    });
    if (signals.pauseMs && signals.pauseMs > 0) {
      await this.options.pacer.pause(signals.pauseMs, signals.reason ?? `HTTP ${status}`);
    }
    if (ok) return { status, headers, data: data as T };
    const kind = signals.limited ? 'rate_limited' : kindForStatus(status);
    throw new TrackerError(kind, `${method} ${path} answered ${status}: ${errorText}`, {
      status,
      retryAfterMs: signals.pauseMs,
      method,
      path,
    });
  }

  private describe(status: number, data: unknown, text: string): string {
    const custom = this.options.describeError?.(status, data);
    if (custom) return custom;
    if (data && typeof data === 'object') return JSON.stringify(data).slice(0, 300);
    return text.slice(0, 300) || `HTTP ${status}`;
  }
}

/** A body as JSON when it is JSON, else the text (error pages are often HTML). */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * What a failed call says about the network (ECONNREFUSED, ECONNRESET...), without the stack:
 * fetch wraps the socket's error as `cause`, undici's `request` throws it (or its own
 * UND_ERR_SOCKET) directly.
 */
export function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = (error as { code?: unknown }).code;
  return cause?.code ?? (typeof code === 'string' ? code : undefined) ?? cause?.message ?? (error as Error).message;
}

/** undici gives headers as an object of lower-case names (a repeated header as an array). */
function headerReader(raw: Record<string, string | string[] | undefined>): ResponseHeaders {
  return {
    get(name) {
      const value = raw[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
  };
}
