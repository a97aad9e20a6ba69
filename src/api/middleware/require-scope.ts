import { createMiddleware } from 'hono/factory';
import type { Scope } from '../../config/api-tokens.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';

/**
 * Refuses a request whose token lacks `scope` with a 403 naming it, before the handler reads the
 * body or writes anything. Runs after bearerAuth (which sets the token's access).
 */
export function requireScope(scope: Scope) {
  return createMiddleware<AppEnv>(async function requireScopeMiddleware(c, next) {
    const access = c.get('access');
    if (!access?.scopes.has(scope)) throw new ApiError('forbidden', `this token lacks the "${scope}" scope`);
    await next();
  });
}
