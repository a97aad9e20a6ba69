import { userInfo } from 'node:os';
import { createRuntime } from '../runtime.ts';
import { ConflictClosedError, ConflictNotFoundError } from '../sync/port/store.ts';
import { pgSyncStore } from '../sync/postgres/store.ts';
import { CliError, UsageError } from './errors.ts';

export function operatorName(values: Record<string, string | boolean | undefined>): string {
  const name = (values.as as string | undefined) ?? process.env.USER ?? userInfo().username;
  if (!/^[^\s]{1,100}$/.test(name)) throw new UsageError('--as takes one word: the operator name recorded in the audit trail');
  return `operator:${name}`;
}

/** `trackline resolve ID --use local|remote`: an operator's decision on an open conflict. */
export async function runResolve(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number> {
  const id = Number(positionals[0]);
  if (positionals.length !== 1 || !Number.isInteger(id) || id <= 0)
    throw new UsageError('expected one conflict id (see: trackline status --conflicts)');
  const use = values.use;
  if (use !== 'local' && use !== 'remote') throw new UsageError('--use must be local or remote');
  const actor = operatorName(values);
  const runtime = await createRuntime({ role: 'api', migrate: false });
  try {
    const resolved = await pgSyncStore(runtime.db.sql).resolveConflict(id, use, actor);
    await runtime.queues.enqueueReconcile([
      { connectionId: resolved.connectionId, itemKey: resolved.itemKey, reason: 'operator', readRemote: true },
    ]);
    console.log(
      `✓ conflict #${id} (${resolved.itemKey}, ${resolved.field} on ${resolved.connectionId}) resolved with the ${use} value by ${actor}; a worker applies it now`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ConflictNotFoundError || error instanceof ConflictClosedError) throw new CliError(error.message);
    throw error;
  } finally {
    await runtime.close();
  }
}
