import type { Pacer } from '../pacing/pacer.ts';
import type { CallRecorder } from './call-recorder.ts';
import { TrackerError, kindForStatus } from './errors.ts';

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
  readSignals(status: number, headers: Headers): RateSignals;
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

export interface HttpResponse<T> {
  status: number;
  headers: Headers;
  data: T;
}

/**
 * A small fetch-based client: paced, timed out, recorded, and turning every failure into a
 * TrackerError that says whether a retry can help. Used instead of the Plane SDK, which drops
 * the response headers the pacer needs (docs/trackers.md section 6).
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
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...this.options.headers,
          ...opts.headers,
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const durationMs = Math.round(performance.now() - started);
      const timedOut = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError';
      const message = timedOut ? `no answer within ${timeoutMs} ms` : `network error: ${networkReason(error)}`;
      recorder.record({ connectionId, deliveryId: opts.deliveryId, method, path, durationMs, error: message, at });
      throw new TrackerError(timedOut ? 'timeout' : 'network', `${method} ${path}: ${message}`, { method, path });
    }
    const text = await response.text();
    const durationMs = Math.round(performance.now() - started);
    const signals = this.options.readSignals(response.status, response.headers);
    const data = text ? safeJson(text) : null;
    const ok = (response.status >= 200 && response.status < 300) || response.status === 304 || opts.accept?.includes(response.status);
    const errorText = ok ? undefined : this.describe(response.status, data, text);
    recorder.record({
      connectionId,
      deliveryId: opts.deliveryId,
      method,
      path,
      status: response.status,
      durationMs,
      rateLimit: Object.keys(signals.keep).length ? signals.keep : undefined,
      error: errorText,
      at,
    });
    if (signals.pauseMs && signals.pauseMs > 0) {
      await this.options.pacer.pause(signals.pauseMs, signals.reason ?? `HTTP ${response.status}`);
    }
    if (ok) return { status: response.status, headers: response.headers, data: data as T };
    const kind = signals.limited ? 'rate_limited' : kindForStatus(response.status);
    throw new TrackerError(kind, `${method} ${path} answered ${response.status}: ${errorText}`, {
      status: response.status,
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

/** What a failed fetch says about the network (ECONNREFUSED, ECONNRESET...), without the stack. */
export function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
