import { pino, type Logger } from 'pino';
import { batchedStdout } from './log-destination.ts';

/**
 * pino JSON logs. Anything that can hold a credential is redacted: tokens, API keys, secrets,
 * passwords, cookies, webhook signatures and Authorization headers.
 *
 * Two layers, because pino's path redaction matches exact paths only (`*.token` covers one level,
 * not `a.b.token`, and `authorization` not `Authorization`):
 * - REDACT_PATHS, compiled by pino, covers the known shapes and also child-logger bindings;
 * - `redactSecrets` walks each logged object and censors any key that names a credential, at any
 *   depth and in any spelling (`apiKey`, `X-API-Key`, `client_secret`), so a new shape someone
 *   logs tomorrow is covered too. It runs only for lines that are actually written.
 * Values inside free text (an error message quoting a token) cannot be found by key: code that
 * builds messages keeps credentials out of them (HttpClient never puts headers in its errors).
 */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'api_key',
  '*.api_key',
  'api_token',
  '*.api_token',
  'secret',
  '*.secret',
  'webhook_secret',
  '*.webhook_secret',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  'config.connections[*].api_key',
  'config.connections[*].token',
];

export const CENSOR = '[redacted]';

/**
 * A key names a credential when, lower-cased and stripped of separators, it ends in one of these:
 * `token`, `api_tokens`, `accessToken`, `webhook_secret`, `X-API-Key`, `Authorization`,
 * `proxy-authorization`, `set-cookie`, `x-hub-signature-256`... A pagination token or a cursor
 * caught by this is a harmless loss; a credential missed by it is not.
 */
const SECRET_KEY = /(token|tokens|secret|secrets|password|passwd|apikey|apikeys|authorization|cookie|signature|signature256)$/;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/**
 * A copy of `value` with every credential-named key's value replaced by CENSOR. Walks plain
 * objects and arrays (up to a depth that log objects never reach, and safe against cycles);
 * leaves everything else, Errors included (pino's error serializer reads them), as it is.
 */
export function redactSecrets(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object' || depth > 10) return value;
  // The original would hold the credentials this copy removed.
  if (seen.has(value)) return '[Circular]';
  if (Array.isArray(value)) {
    seen.add(value);
    return value.map((v) => redactSecrets(v, depth + 1, seen));
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  seen.add(value);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value))
    out[key] = isSecretKey(key) && v !== undefined && v !== null ? CENSOR : redactSecrets(v, depth + 1, seen);
  return out;
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'trackline' },
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: { log: (object) => redactSecrets(object) as Record<string, unknown> },
    },
    // Standard output by default, written in batches (see log-destination.ts).
    (destination ?? batchedStdout()) as never,
  );
}
