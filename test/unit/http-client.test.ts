import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, type RateSignals } from '../../src/trackers/http-client.ts';
import { TrackerError } from '../../src/sync/port/errors.ts';
import type { Pacer } from '../../src/pacing/pacer.ts';
import type { TrackerCall } from '../../src/trackers/call-recorder.ts';

/** What the server saw of each request. */
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    if (req.url?.includes('/limited')) {
      res.writeHead(429, { 'retry-after': '3', 'content-type': 'application/json' }).end('{"detail":"slow down"}');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-remaining': '59', 'set-cookie': ['a=1', 'b=2'] })
      .end(JSON.stringify({ ok: true, echo: body ? JSON.parse(body) : null }));
  });
});
let base = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function client(calls: TrackerCall[], signals: RateSignals[] = [], pauses: number[] = []) {
  const pacer = { schedule: <T>(fn: () => Promise<T>) => fn(), pause: async (ms: number) => void pauses.push(ms) } as unknown as Pacer;
  return new HttpClient({
    connectionId: 'plane-main',
    baseUrl: `${base}/api/`,
    headers: { 'x-api-key': 'plane_api_secret_value' },
    pacer,
    recorder: { record: (call) => calls.push(call) },
    timeoutMs: 2_000,
    readSignals(status, headers) {
      const remaining = headers.get('X-RateLimit-Remaining');
      const read: RateSignals = {
        keep: remaining ? { remaining } : {},
        ...(status === 429 ? { pauseMs: Number(headers.get('retry-after')) * 1000, limited: true } : {}),
      };
      signals.push({ ...read, keep: { ...read.keep, cookies: headers.get('set-cookie') ?? '' } });
      return read;
    },
  });
}

describe('HttpClient', () => {
  it('sends JSON with the fixed headers, reads headers case-insensitively, records the call without its key', async () => {
    const calls: TrackerCall[] = [];
    const signals: RateSignals[] = [];
    const res = await client(calls, signals).request<{ ok: boolean; echo: unknown }>('PATCH', '/work-items/1/', {
      body: { name: 'x' },
      query: { expand: 'labels', skip: undefined },
    });
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ ok: true, echo: { name: 'x' } });
    expect(res.headers.get('Content-Type')).toBe('application/json');
    expect(signals[0].keep).toEqual({ remaining: '59', cookies: 'a=1, b=2' });
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ method: 'PATCH', url: '/api/work-items/1/?expand=labels' });
    expect(request.headers).toMatchObject({
      'x-api-key': 'plane_api_secret_value',
      'content-type': 'application/json',
      accept: 'application/json',
    });
    expect(calls).toEqual([
      expect.objectContaining({
        connectionId: 'plane-main',
        method: 'PATCH',
        path: '/work-items/1/',
        status: 200,
        rateLimit: { remaining: '59' },
      }),
    ]);
    expect(JSON.stringify(calls)).not.toContain('plane_api_secret_value');
  });

  it('turns a 429 into a rate-limited TrackerError after pausing the connection as long as asked', async () => {
    const pauses: number[] = [];
    const error = await client([], [], pauses)
      .request('GET', '/limited')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrackerError);
    expect(error).toMatchObject({ kind: 'rate_limited', details: { status: 429, retryAfterMs: 3000 } });
    expect(pauses).toEqual([3000]);
  });

  it('names the network failure when nothing listens', async () => {
    const calls: TrackerCall[] = [];
    const closed = new HttpClient({ ...client(calls).options, baseUrl: 'http://127.0.0.1:1/' });
    const error = await closed.request('GET', '/x').catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'network', message: expect.stringContaining('ECONNREFUSED') });
    expect(calls[0].error).toMatch(/network error: ECONNREFUSED/);
  });

  // Loading the client loads undici, whose Agent becomes the dispatcher of Node's own fetch; with
  // undici 7 on Node 20 this request failed ("invalid content-length header").
  it("leaves Node's fetch working, explicit content-length and all", async () => {
    await client([]).request('GET', '/warm');
    const body = JSON.stringify({ relayed: true });
    const res = await fetch(`${base}/relay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      body,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, echo: { relayed: true } });
  });
});
