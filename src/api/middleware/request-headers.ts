import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/**
 * Request headers read from Node's own parsed headers (`c.env.incoming`) when served by
 * @hono/node-server.
 *
 * Reading `c.req.raw.headers` (and so `c.req.header()`) makes the server build a full fetch
 * `Headers` object for the request, validating every name and value once more: about 5% of the
 * webhook intake's CPU in the bench/intake.ts profile, paid by every request as soon as one
 * middleware reads one header. Node joins repeated headers with ", " as `Headers` does (and keeps
 * the first of a few single-valued ones, such as Content-Type and Authorization). Outside
 * node-server (app.request() in tests) the fetch headers are used.
 */
function incomingOf(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

/** The request's headers as a plain object with lower-case names. */
export function requestHeaders(c: Context): Record<string, string> {
  const incoming = incomingOf(c);
  if (!incoming?.headers) return Object.fromEntries(c.req.raw.headers.entries());
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** One request header by its lower-case name, as `c.req.header(name)` gives it. */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = incomingOf(c);
  if (!incoming?.headers) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
