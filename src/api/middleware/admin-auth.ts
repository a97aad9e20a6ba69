import { createMiddleware } from 'hono/factory';
import type { ApiToken } from '../../config/api-tokens.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { basicAuth } from './basic-auth.ts';
import { bearerAuth } from './bearer-auth.ts';
import { requestHeader } from './request-headers.ts';

export interface AdminAuthOptions {
  /** `[admin]`: HTTP basic auth, what a browser prompts for. */
  basic?: { username: string; password: string; realm: string };
  /** `[api] tokens`: one with the `admin` scope opens the board (scripts, proxies that send a bearer token). */
  tokens: readonly ApiToken[];
}

/**
 * Operator pages (Bull Board) take either: a bearer token with the `admin` scope that is not
 * limited to connections (the board shows and retries every connection's jobs), or the `[admin]`
 * user by basic auth. The Authorization scheme says which is meant.
 */
export function adminAuth(options: AdminAuthOptions) {
  const basic = options.basic ? basicAuth(options.basic) : null;
  const bearer = options.tokens.some((t) => t.scopes.has('admin')) ? bearerAuth({ tokens: options.tokens }) : null;
  const challenge = basic
    ? { 'www-authenticate': `Basic realm="${options.basic!.realm.replace(/["\\]/g, '')}", charset="UTF-8"` }
    : { 'www-authenticate': 'Bearer' };
  return createMiddleware<AppEnv>(async function adminAuthMiddleware(c, next) {
    const scheme = /^(\w+)\s/.exec(requestHeader(c, 'authorization') ?? '')?.[1]?.toLowerCase();
    if (scheme === 'bearer' && bearer) {
      return bearer(c, async () => {
        if (!c.get('access').scopes.has('admin')) throw new ApiError('forbidden', 'this token lacks the "admin" scope');
        if (c.get('access').connections)
          throw new ApiError('forbidden', 'this token is limited to connections; the board needs an admin token for all of them');
        c.set('principal', `operator:token-${c.get('principal')}`);
        await next();
      });
    }
    if (basic) return basic(c, next);
    throw new ApiError('unauthorized', 'an admin token required: "Authorization: Bearer <token with the admin scope>"', challenge);
  });
}
