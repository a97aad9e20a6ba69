import { createHash, timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../errors.ts';
import type { AppEnv } from '../context.ts';
import { requestHeader } from './request-headers.ts';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export interface BasicAuthOptions {
  username: string;
  password: string;
  /** Shown by the browser's login prompt; one realm per protected area. */
  realm: string;
}

/**
 * HTTP basic auth for operator pages (Bull Board): browsers prompt for it natively, so the board
 * needs no login page of its own. User name and password are compared as SHA-256 digests with
 * timingSafeEqual, both always, so neither the time taken nor a length difference tells a caller
 * which part of a guess was wrong. Sets `principal` to `operator:<name>`, the actor form the
 * activity trail uses for operators.
 */
export function basicAuth(options: BasicAuthOptions) {
  const user = digest(options.username);
  const pass = digest(options.password);
  // RFC 7617: the charset parameter tells browsers to send non-ASCII credentials as UTF-8.
  const challenge = { 'www-authenticate': `Basic realm="${options.realm.replace(/["\\]/g, '')}", charset="UTF-8"` };
  return createMiddleware<AppEnv>(async function basicAuthMiddleware(c, next) {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(requestHeader(c, 'authorization') ?? '');
    if (!match)
      throw new ApiError('unauthorized', 'admin credentials required (HTTP basic auth, the [admin] user of trackline.toml)', challenge);
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const given =
      colon < 0 ? { username: decoded, password: '' } : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    const userOk = timingSafeEqual(digest(given.username), user);
    const passOk = timingSafeEqual(digest(given.password), pass);
    if (!(userOk && passOk)) throw new ApiError('unauthorized', 'wrong admin user name or password', challenge);
    c.set('principal', `operator:${options.username}`);
    await next();
  });
}
