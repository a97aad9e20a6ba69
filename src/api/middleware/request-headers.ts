import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/**
 * The request's headers as a plain object with lower-case names.
 *
 * Served by @hono/node-server, they are read from Node's own parsed headers (`c.env.incoming`).
 * Iterating `c.req.raw.headers` instead makes the server build a full fetch `Headers` object,
 * validating every name and value once more: about 5% of the webhook intake's CPU in the
 * bench/intake.ts profile. Node joins repeated headers with ", " as `Headers` does (and keeps the
 * first of a few single-valued ones, such as Content-Type and Authorization).
 */
export function requestHeaders(c: Context): Record<string, string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming?.headers) return Object.fromEntries(c.req.raw.headers.entries());
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
