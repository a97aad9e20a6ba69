import { createRuntime, type Runtime } from '../runtime.ts';
import { startWorkers } from '../jobs/worker.ts';
import { planConnection } from '../jobs/plan-job.ts';
import type { PairPlan } from '../sync/dry-run.ts';
import { CliError, UsageError } from './errors.ts';
import { Progress } from './progress.ts';
import { operatorName } from './resolve-command.ts';
import { runStatus } from './status-command.ts';
import { runCheck } from './check-command.ts';
import { createLogger } from '../support/logger.ts';
import { findItemProblem, forcePush } from '../operator/force-push.ts';

interface SyncOptions {
  connection?: string;
  direction: 'push' | 'pull' | 'both';
  dryRun: boolean;
  restart: boolean;
  batch: number;
  /** Only these items (--item, repeatable); absent: every item of the connection. */
  items?: string[];
  /** `operator:<name>` when the push is forced (--force). */
  forcedBy?: string;
  /** Only these fields (--labels-only): the items' other changes stay pending. */
  only?: 'labels'[];
  /** Log level on stderr: -v debug (each tracker call, each reconcile's outcome), -vv trace. */
  verbosity: 0 | 1 | 2;
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export function parseSyncOptions(values: Values): SyncOptions {
  if (values['push-only'] && values['pull-only']) throw new UsageError('--push-only and --pull-only exclude each other');
  const batch = values.batch === undefined ? 50 : Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > 1000) throw new UsageError('--batch must be 1-1000');
  if (values.force && values['dry-run'])
    throw new UsageError('--force and --dry-run exclude each other (the plan is what an unforced sync would do)');
  if (values.force && values['pull-only']) throw new UsageError("--force pushes the items' values; it does nothing with --pull-only");
  if (values['labels-only'] && values['pull-only'])
    throw new UsageError('--labels-only reads each issue and merges its labels both ways; it cannot be limited to --pull-only');
  const items = values.item as string[] | undefined;
  const verbose = (values.verbose as boolean[] | undefined)?.length ?? 0;
  return {
    connection: values.connection as string | undefined,
    direction: values['push-only'] ? 'push' : values['pull-only'] ? 'pull' : 'both',
    dryRun: Boolean(values['dry-run']),
    restart: Boolean(values.restart),
    batch,
    items: items?.length ? [...new Set(items)] : undefined,
    forcedBy: values.force ? operatorName(values as Record<string, string | boolean | undefined>) : undefined,
    only: values['labels-only'] ? ['labels'] : undefined,
    verbosity: verbose >= 2 ? 2 : verbose === 1 ? 1 : 0,
  };
}

/**
 * `trackline sync`: a full sync of one or all connections. A dry run prints the plan, item by
 * item and field by field, and writes nothing. A real run goes through the queue (an in-process
 * worker joins any running ones, so two reconciles of one pair still never overlap), in item-key
 * order and in batches, saving a checkpoint after each batch: an interrupted sync resumes there.
 */
export async function runSync(values: Values): Promise<number> {
  // The names other sync tools use for the same things: sync --status is status, sync --test is check.
  if (values.status && values.test) throw new UsageError('--status and --test exclude each other');
  if (values.status) return runStatus(values as Record<string, string | boolean | undefined>);
  if (values.test) return runCheck(values.connection as string | undefined);
  const options = parseSyncOptions(values);
  // -v / -vv: pino lines on stderr (credentials censored by key, as in every log line).
  const log = options.verbosity ? createLogger(options.verbosity === 2 ? 'trace' : 'debug', process.stderr) : undefined;
  const runtime = await createRuntime({ role: 'cli', log });
  try {
    const connections = runtime.connections.all().filter((c) => !options.connection || c.config.id === options.connection);
    if (options.connection && connections.length === 0)
      throw new CliError(`no connection "${options.connection}" in ${runtime.env.TRACKLINE_CONFIG}`);
    if (connections.length === 0) throw new CliError(`no connections configured in ${runtime.env.TRACKLINE_CONFIG}`);
    if (options.items)
      await checkItems(
        runtime,
        options.items,
        connections.map((c) => c.config.id),
      );
    if (options.dryRun)
      return await dryRun(
        runtime,
        connections.map((c) => c.config.id),
        options,
      );
    return await realRun(
      runtime,
      connections.map((c) => c.config.id),
      options,
    );
  } finally {
    await runtime.close();
  }
}

async function dryRun(runtime: Runtime, ids: string[], options: SyncOptions): Promise<number> {
  let failed = 0;
  for (const id of ids) {
    const progress = new Progress(`planning ${id}`, 0);
    const plan = await planConnection(
      runtime.db.sql,
      runtime.connections,
      { connectionId: id, direction: options.direction, limit: 10_000, items: options.items, only: options.only },
      (done, total) => {
        progress.setTotal(total);
        progress.update(done);
      },
    );
    progress.done(plan.planned + plan.errors.length);
    const what = options.only ? `${options.only.join(', ')} only; ` : '';
    console.log(`${id}: ${plan.changes} of ${plan.planned} items would change (${what}dry run: nothing was written)`);
    for (const item of plan.items) printPlan(item);
    for (const e of plan.errors) console.log(`  ✗ ${e.key}: ${e.error}`);
    failed += plan.errors.length;
  }
  return failed ? 1 : 0;
}

function printPlan(plan: PairPlan): void {
  const where = plan.remoteKey ? ` ${plan.remoteKey}` : '';
  console.log(`  ${plan.itemKey}: ${plan.action}${where}${plan.note ? ` (${plan.note})` : ''}`);
  const show = (v: unknown) => (v === null || v === undefined ? '∅' : JSON.stringify(v));
  for (const [field, c] of Object.entries(plan.push)) console.log(`    push ${field}: ${show(c?.from)} → ${show(c?.to)}`);
  for (const [field, c] of Object.entries(plan.pull)) console.log(`    pull ${field}: ${show(c?.from)} → ${show(c?.to)}`);
  for (const c of plan.conflicts)
    console.log(
      `    conflict ${c.field}: local ${show(c.local)} vs remote ${show(c.remote)} → ${c.outcome === 'open' ? 'left open (manual)' : `${c.strategy} takes ${c.outcome}`}`,
    );
  if (plan.comments) console.log(`    ${plan.comments} comment(s) to post`);
  if (plan.pullRequest) console.log(`    ${plan.pullRequest}`);
}

async function realRun(runtime: Runtime, ids: string[], options: SyncOptions): Promise<number> {
  const { sql } = runtime.db;
  const workers = await startWorkers(runtime, { sweepEveryMs: 10_000 });
  let failedTotal = 0;
  try {
    for (const id of ids) {
      const config = runtime.connections.get(id)!.config;
      const push = options.direction !== 'pull' && config.direction !== 'pull';
      const pull = options.direction !== 'push' && config.direction !== 'push';
      // A poll would sync every field the tracker changed; a limited sync reads each issue instead.
      if (pull && !options.only) await pullNow(runtime, id);
      // A labels-only sync of a pull-only connection reads each issue in its reconcile and takes its labels.
      if (!push && !(options.only && pull)) continue;
      // A sync of named items is short and starts over each time: no checkpoint.
      const checkpointName = options.items ? null : options.only ? `cli-sync-${options.only.join('-')}` : 'cli-sync';
      const only = options.items ? sql`and item_key in ${sql(options.items)}` : sql``;
      if (options.forcedBy && push) await forcePushes(runtime, id, options);
      if (options.restart && checkpointName) await sql`delete from sync_cursors where connection_id = ${id} and name = ${checkpointName}`;
      const [saved] = checkpointName
        ? await sql<{ value: { after: string } }[]>`select value from sync_cursors where connection_id = ${id} and name = ${checkpointName}`
        : [];
      let after = saved?.value.after ?? '';
      const [{ total }] = await sql<
        { total: number }[]
      >`select count(*)::int as total from mappings where connection_id = ${id} and status not in ('deleted', 'remote_deleted') ${only}`;
      const [{ before }] = await sql<
        { before: number }[]
      >`select count(*)::int as before from mappings where connection_id = ${id} and status not in ('deleted', 'remote_deleted') and item_key <= ${after} ${only}`;
      if (after) console.log(`${id}: resuming after "${after}" (${before} of ${total} done earlier; --restart starts over)`);
      const progress = new Progress(`syncing ${id}`, total);
      let done = before;
      let failed = 0;
      for (;;) {
        const batch = await sql<{ item_key: string; version: string }[]>`
          select m.item_key, i.version from mappings m join items i on i.key = m.item_key
          where m.connection_id = ${id} and m.status not in ('deleted', 'remote_deleted') and m.item_key > ${after}
            ${options.items ? sql`and m.item_key in ${sql(options.items)}` : sql``}
          order by m.item_key limit ${options.batch}`;
        if (batch.length === 0) break;
        const [{ enqueuedAt }] = await sql<{ enqueuedAt: Date }[]>`select clock_timestamp() as "enqueuedAt"`;
        await runtime.queues.enqueueReconcile(
          batch.map((b) => ({ connectionId: id, itemKey: b.item_key, reason: 'sync' as const, readRemote: pull, only: options.only })),
        );
        const tick = () => progress.update(done, failed ? `${failed} failed` : '');
        failed += options.only
          ? await waitForReconciles(
              runtime,
              id,
              batch.map((b) => b.item_key),
              enqueuedAt,
              tick,
            )
          : await waitForBatch(
              runtime,
              id,
              batch.map((b) => ({ key: b.item_key, version: Number(b.version) })),
              tick,
            );
        done += batch.length;
        after = batch[batch.length - 1].item_key;
        if (checkpointName)
          await sql`insert into sync_cursors (connection_id, name, value) values (${id}, ${checkpointName}, ${sql.json({ after } as never)})
            on conflict (connection_id, name) do update set value = excluded.value, updated_at = now()`;
        progress.update(done, failed ? `${failed} failed` : '');
      }
      progress.done(done, failed ? `${failed} failed` : '');
      if (checkpointName) await sql`delete from sync_cursors where connection_id = ${id} and name = ${checkpointName}`;
      console.log(
        `${id}: ${done - failed} synced${options.only ? ` (${options.only.join(', ')} only)` : ''}, ${failed} failed${failed ? ' (see: trackline status, GET /v1/deliveries?status=failed)' : ''}`,
      );
      failedTotal += failed;
    }
  } finally {
    await workers.close(5_000);
  }
  return failedTotal ? 1 : 0;
}

/** Waits until every pair of the batch is synced at (at least) its version, or failed for good. */
async function waitForBatch(runtime: Runtime, id: string, batch: { key: string; version: number }[], tick: () => void): Promise<number> {
  const keys = batch.map((b) => b.key);
  for (;;) {
    const rows = await runtime.db.sql<{ item_key: string; synced_version: string; failed_version: string; status: string }[]>`
      select item_key, synced_version, failed_version, status from mappings where connection_id = ${id} and item_key in ${runtime.db.sql(keys)}`;
    const want = new Map(batch.map((b) => [b.key, b.version]));
    let failed = 0;
    const settled = rows.every((r) => {
      const v = want.get(r.item_key)!;
      if (Number(r.failed_version) >= v && r.status === 'error') {
        failed++;
        return true;
      }
      return Number(r.synced_version) >= v || r.status === 'unmapped';
    });
    if (settled) return failed;
    tick();
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A limited sync leaves synced_version where it was (the items' other changes stay pending), so
 * it waits instead for a reconcile of each pair that started after the batch was enqueued to end:
 * that one read the item after the request, whether it was this sync's job or one it folded into.
 */
async function waitForReconciles(runtime: Runtime, id: string, keys: string[], since: Date, tick: () => void): Promise<number> {
  const { sql } = runtime.db;
  for (;;) {
    const rows = await sql<{ item_key: string; failed: boolean }[]>`
      select item_key, bool_and(status = 'failed') as failed from deliveries
      where direction = 'out' and kind = 'reconcile' and connection_id = ${id} and item_key in ${sql(keys)}
        and created_at >= ${since} and status in ('succeeded', 'failed')
      group by item_key`;
    if (rows.length === keys.length) return rows.filter((r) => r.failed).length;
    tick();
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function pullNow(runtime: Runtime, id: string): Promise<void> {
  const progress = new Progress(`pulling ${id}`, 1);
  await runtime.queues.pollNow(id);
  for (;;) {
    const counts = await runtime.queues.poll.getJobCounts('waiting', 'active', 'delayed');
    if (counts.waiting + counts.active + counts.delayed === 0) break;
    progress.update(0, 'polling');
    await new Promise((r) => setTimeout(r, 200));
  }
  const [last] = await runtime.db.sql<{ status: string; result: Record<string, number> | null; last_error: string | null }[]>`
    select status, result, last_error from deliveries where connection_id = ${id} and kind = 'poll' order by created_at desc limit 1`;
  progress.done(
    1,
    last ? `${last.status}${last.result ? ` ${JSON.stringify(last.result)}` : ''}${last.last_error ? `: ${last.last_error}` : ''}` : 'done',
  );
}

/** --item: every key names an item, carried by one of the connections synced; else nothing is written. */
async function checkItems(runtime: Runtime, keys: string[], connectionIds: string[]): Promise<void> {
  const problem = await findItemProblem({ sql: runtime.db.sql }, keys, connectionIds);
  if (problem?.reason === 'missing') throw new CliError(`no item "${problem.key}" (nothing was written)`);
  if (problem) throw new CliError(`item "${problem.key}" is not synced with ${connectionIds.join(', ')} (nothing was written)`);
}

/**
 * --force: the operator's decision to push each item's values as they are (with --labels-only,
 * their labels), recorded before the sync (operator/force-push.ts); the reconciles then push
 * wherever the tracker differs, past the re-open and close guards.
 */
async function forcePushes(runtime: Runtime, connectionId: string, options: SyncOptions): Promise<void> {
  const forced = await forcePush({ sql: runtime.db.sql, connections: runtime.connections }, connectionId, {
    items: options.items,
    fields: options.only,
    actor: options.forcedBy!,
    reason: options.only ? `forced: trackline sync --force --${options.only.join('-')}-only` : 'forced: trackline sync --force',
  });
  console.log(`${connectionId}: ${forced} item(s) forced by ${options.forcedBy}`);
}
