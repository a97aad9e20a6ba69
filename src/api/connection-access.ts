import type { Context } from 'hono';
import type { AppEnv } from './context.ts';
import { ApiError } from './errors.ts';

/**
 * What a connection-limited token may see: the connections it names, or null for every one. Routes
 * filter lists by it, answer 404 for a single thing of another connection (its existence is not
 * theirs to learn) and 403 for a request that names another connection outright.
 */
export function allowedConnections(c: Context<AppEnv>): string[] | null {
  const connections = c.get('access')?.connections;
  return connections ? [...connections] : null;
}

export function mayTouch(c: Context<AppEnv>, connectionId: string | null): boolean {
  const allowed = c.get('access')?.connections;
  return !allowed || (connectionId !== null && allowed.has(connectionId));
}

/** 403 naming the connection when the token is limited to others. */
export function assertConnection(c: Context<AppEnv>, connectionId: string): void {
  if (mayTouch(c, connectionId)) return;
  const allowed = allowedConnections(c) ?? [];
  throw new ApiError(
    'forbidden',
    `this token is limited to connection${allowed.length === 1 ? '' : 's'} ${allowed.join(', ')}; "${connectionId}" is not one of them`,
  );
}
