import type { Sql } from '../db/client.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import type { Queues } from '../queues/queues.ts';

/** What the operator actions use; the api and the CLI each hand over theirs. */
export interface OperatorServices {
  sql: Sql;
  queues: Queues;
  connections: ConnectionRegistry;
}
