import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { Sql } from '../db/client.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import type { Queues } from '../queues/queues.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Scope } from '../config/api-tokens.ts';

/** Services the api needs, built once in the composition root and handed to routes. */
export interface ApiServices {
  sql: Sql;
  config: Config;
  connections: ConnectionRegistry;
  queues: Queues;
  log: Logger;
  /** The runtime's metrics, shared with this process's workers; absent, the api builds its own. */
  metrics?: Metrics;
}

/** Read with `c.get(name)`: hono's `c.var` copies every variable into a new object on each access. */
export type AppEnv = {
  Variables: {
    services: ApiServices;
    requestId: string;
    /** A short hash of the caller's token: who, without the secret. */
    principal: string;
    /** What the caller's token may do (bearer-authenticated routes). */
    access: TokenAccess;
  };
};

/** A token's scopes and, when limited, the connections whose items it sees and touches. */
export interface TokenAccess {
  scopes: ReadonlySet<Scope>;
  connections: ReadonlySet<string> | null;
}
