import { createHash, timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../errors.ts';
import type { AppEnv } from '../context.ts';
import { requestHeader } from './request-headers.ts';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Bearer auth for /v1. Tokens are compared as SHA-256 digests with timingSafeEqual, so neither
 * the comparison time nor a length mismatch tells a caller how close a guess was.
 */
export function bearerAuth(options: { tokens: string[] }) {
  const known = options.tokens.map(digest);
  return createMiddleware<AppEnv>(async function bearerAuthMiddleware(c, next) {
    const header = requestHeader(c, 'authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match)
      throw new ApiError('unauthorized', 'missing bearer token: send "Authorization: Bearer <token>"', { 'www-authenticate': 'Bearer' });
    const given = digest(match[1]);
    if (!known.some((k) => timingSafeEqual(k, given)))
      throw new ApiError('unauthorized', 'invalid bearer token', { 'www-authenticate': 'Bearer' });
    c.set('principal', given.toString('hex').slice(0, 16));
    await next();
  });
}
