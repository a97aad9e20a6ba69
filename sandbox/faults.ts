// Fault injection shared by all sandbox trackers: make the next N matching requests fail the way
// real trackers and the networks in front of them fail (5xx, 429 with Retry-After, a request that
// hangs, a connection reset), so retry, back-off and idempotency code can be tested for real.
//
// Faults form a queue. A request takes the first fault that matches it; that fault is used `times`
// times and then removed, so `inject(500 ×3)` followed by `inject(429 ×1)` yields 500, 500, 500,
// 429 and then normal answers.

import type { Socket } from 'node:net';
import { z } from 'zod';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** What `faults.inject()` and `POST /_sandbox/faults` accept. */
export const faultSpecSchema = z
  .object({
    tracker: z.string().min(1),
    method: z.enum(HTTP_METHODS).optional(),
    pathIncludes: z.string().optional(),
    /** Answer with this status (the tracker renders its usual error body for it). */
    status: z.number().int().min(100).max(599).optional(),
    /** Seconds, sent as the Retry-After header together with `status`. */
    retryAfter: z.number().int().min(0).optional(),
    /** Hang this long, then answer 504; if the client gives up first, nothing is sent. */
    timeoutMs: z.number().int().min(0).optional(),
    /** Destroy the TCP connection without answering. */
    reset: z.boolean().optional(),
    /**
     * Let the tracker handle the request (the write happens), then hold the answer back this long;
     * if the client gives up first, it never learns the outcome. Models "committed, then timed out".
     */
    delayAfterMs: z.number().int().min(0).optional(),
    /** Overrides the body the tracker would render for `status`. */
    body: z.unknown().optional(),
    times: z.number().int().min(1),
  })
  .strict()
  .refine(
    (f) => [f.status !== undefined, f.timeoutMs !== undefined, f.reset === true, f.delayAfterMs !== undefined].filter(Boolean).length === 1,
    { message: 'a fault needs exactly one of status, timeoutMs, reset or delayAfterMs' },
  )
  .refine((f) => f.retryAfter === undefined || f.status !== undefined, {
    message: 'retryAfter only goes with status',
  });

export type FaultSpec = z.infer<typeof faultSpecSchema>;

export interface Fault extends FaultSpec {
  id: string;
  /** Uses left before the fault is removed. */
  remaining: number;
}

export class Faults {
  #queue: Fault[] = [];
  #served = 0;

  /** Validates and queues a fault; throws a ZodError on a bad spec. */
  inject(spec: FaultSpec): Fault {
    const parsed = faultSpecSchema.parse(spec);
    const fault: Fault = { ...parsed, id: crypto.randomUUID(), remaining: parsed.times };
    this.#queue.push(fault);
    return { ...fault };
  }

  /** Consumes one use of the first fault matching this request, if any. */
  take(tracker: string, method: string, path: string): Fault | undefined {
    const upper = method.toUpperCase();
    const index = this.#queue.findIndex(
      (f) =>
        f.tracker === tracker &&
        (f.method === undefined || f.method === upper) &&
        (f.pathIncludes === undefined || path.includes(f.pathIncludes)),
    );
    if (index < 0) return undefined;
    const fault = this.#queue[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#queue.splice(index, 1);
    this.#served += 1;
    return { ...fault };
  }

  /** Faults still queued, with their remaining uses. */
  pending(): Fault[] {
    return this.#queue.map((f) => ({ ...f }));
  }

  clear(): void {
    this.#queue = [];
  }

  /** How many requests have been answered by a fault so far. */
  get served(): number {
    return this.#served;
  }
}

/** Thrown when a reset fault fires on a request that has no socket (in-process `app.request`). */
export class ConnectionResetError extends Error {
  constructor() {
    super('sandbox fault: connection reset');
    this.name = 'ConnectionResetError';
  }
}

export interface FaultIo {
  /** The client's TCP socket; absent when the app is called in-process. */
  socket?: Socket;
  /** Fires when the client goes away or the sandbox shuts down. */
  signal?: AbortSignal;
  /** The tracker's own rendering of an error status (body and content type as the real API). */
  render(status: number, retryAfter?: number): Response;
}

/**
 * Carries out a fault that answers instead of the tracker (status, timeoutMs, reset). Returns the
 * response to send, or null when nothing must be sent (the socket was reset, or the client left
 * while a timeout was hanging). delayAfterMs faults are run by the frame around the tracker, with
 * waitOrAbort.
 */
export async function performFault(fault: Fault, io: FaultIo): Promise<Response | null> {
  if (fault.reset) {
    if (!io.socket) throw new ConnectionResetError();
    // resetAndDestroy sends a TCP RST, which clients report as ECONNRESET like a real dropped
    // connection; plain destroy() is the fallback on runtimes without it.
    if (typeof io.socket.resetAndDestroy === 'function') io.socket.resetAndDestroy();
    else io.socket.destroy();
    return null;
  }

  if (fault.timeoutMs !== undefined) {
    const completed = await waitOrAbort(fault.timeoutMs, io.signal);
    // 504 is what the proxy in front of a hosted tracker answers when the backend does not.
    return completed ? io.render(504) : null;
  }

  const status = fault.status ?? 500;
  const rendered = io.render(status, fault.retryAfter);
  const headers = new Headers(rendered.headers);
  if (fault.retryAfter !== undefined) headers.set('Retry-After', String(fault.retryAfter));
  if (fault.body !== undefined) {
    headers.set('Content-Type', 'application/json');
    return new Response(JSON.stringify(fault.body), { status, headers });
  }
  return new Response(rendered.body, { status, headers });
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function waitOrAbort(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
