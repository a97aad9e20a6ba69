import { hash, timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../errors.ts';
import type { AppEnv, TokenAccess } from '../context.ts';
import type { ApiToken } from '../../config/api-tokens.ts';
import { requestHeader } from './request-headers.ts';

// One-shot hash(): no Hash object per request.
const digest = (value: string) => hash('sha256', value, 'buffer') as unknown as Buffer;

/**
 * Bearer auth for /v1 (and /metrics, Bull Board when they take tokens). Tokens are compared as
 * SHA-256 digests with timingSafeEqual, against every configured token without stopping at the
 * first match, so neither the comparison time nor a length mismatch tells a caller how close a
 * guess was or which entry it matched. Sets `principal` (a short hash of the token: who, without
 * the secret; never the token itself) and `access` (its scopes and connections).
 */
export function bearerAuth(options: { tokens: readonly ApiToken[] }) {
  const known = options.tokens.map((t) => ({
    digest: digest(t.token),
    access: { scopes: t.scopes, connections: t.connections } satisfies TokenAccess,
  }));
  return createMiddleware<AppEnv>(async function bearerAuthMiddleware(c, next) {
    const header = requestHeader(c, 'authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match)
      throw new ApiError('unauthorized', 'missing bearer token: send "Authorization: Bearer <token>"', { 'www-authenticate': 'Bearer' });
    const given = digest(match[1]);
    let access: TokenAccess | undefined;
    for (const k of known) if (timingSafeEqual(k.digest, given) && !access) access = k.access;
    if (!access) throw new ApiError('unauthorized', 'invalid bearer token', { 'www-authenticate': 'Bearer' });
    c.set('principal', given.toString('hex').slice(0, 16));
    c.set('access', access);
    await next();
  });
}
