import type { Runtime } from '../runtime.ts';
import { Progress } from './progress.ts';
import { postgresIssueStateCache, redisIssueStateCache } from './issue-state-cache.ts';

/** A remote state read at most this long ago is shown from the cache instead of read again. */
const CACHE_SECONDS = 60;

interface PairRow {
  item_key: string;
  remote_id: string;
  remote_key: string | null;
  state: string | null;
  version: string;
  synced_version: string;
  status: string;
}

/**
 * `trackline status --issues`: every mapped item beside its issue's state as the tracker has it now,
 * flagging drift (the states differ and no sync is pending or held that would explain it: an edit
 * whose webhook never came and that polling has not caught yet). Issues are read through the
 * connection's pacer, so the reads stay inside the tracker's budget; each state read is kept for
 * CACHE_SECONDS where the queues are (Redis, or PostgreSQL), so running it again soon costs no
 * budget. Answers how many issues could not be read.
 */
export async function printIssues(runtime: Runtime): Promise<{ drift: number; unreadable: number }> {
  const { sql } = runtime.db;
  const cache = runtime.producerRedis ? redisIssueStateCache(runtime.producerRedis) : postgresIssueStateCache(sql);
  let drift = 0;
  let unreadable = 0;
  for (const connection of runtime.connections.all()) {
    const id = connection.config.id;
    const rows = await sql<PairRow[]>`
      select m.item_key, m.remote_id, m.remote_key, i.desired->>'state' as state, i.version, m.synced_version, m.status
      from mappings m join items i on i.key = m.item_key
      where m.connection_id = ${id} and m.remote_id is not null and m.status not in ('deleted', 'remote_deleted')
      order by m.item_key`;
    console.log(`\n${id} (${connection.config.tracker}): ${rows.length} mapped item(s)`);
    if (rows.length === 0) continue;
    const progress = new Progress(`reading ${id}`, rows.length);
    const lines: string[] = [];
    for (const [n, row] of rows.entries()) {
      const cacheKey = `${runtime.env.TRACKLINE_REDIS_PREFIX}:status-issues:${id}:${row.remote_id}`;
      let remoteState: string | null | undefined;
      let error: string | undefined;
      const cached = await cache.get(cacheKey);
      if (cached !== null) remoteState = (JSON.parse(cached) as { state: string | null }).state;
      else {
        try {
          const issue = await connection.adapter().get({ id: row.remote_id, key: row.remote_key }, {});
          remoteState = issue.fields.state ?? null;
          await cache.set(cacheKey, JSON.stringify({ state: remoteState }), CACHE_SECONDS);
        } catch (e) {
          error = (e as Error).message;
        }
      }
      progress.update(n + 1);
      const key = row.remote_key ?? row.remote_id;
      if (error !== undefined) {
        unreadable++;
        lines.push(`  ✗ ${key.padEnd(8)} ${row.item_key}: could not read it: ${error.slice(0, 160)}`);
        continue;
      }
      const expected = row.state === null ? null : (connection.translate.toRemote('state', row.state) ?? null);
      const pending = Number(row.synced_version) < Number(row.version) || row.status !== 'synced';
      const same = expected === null || expected === remoteState;
      const mark = same ? '✓' : pending ? '·' : '⚠';
      const note = same
        ? ''
        : pending
          ? ` (${row.status === 'synced' ? 'sync pending' : row.status})`
          : ' DRIFT: differs with no sync pending';
      if (!same && !pending) drift++;
      lines.push(
        `  ${mark} ${key.padEnd(8)} ${row.item_key}: item ${row.state ?? '∅'} → "${expected ?? '∅'}", tracker "${remoteState ?? '∅'}"${note}`,
      );
    }
    progress.done(rows.length);
    for (const line of lines) console.log(line);
  }
  console.log(`\n${drift} drifted, ${unreadable} unreadable (tracker states cached for ${CACHE_SECONDS}s)`);
  return { drift, unreadable };
}
