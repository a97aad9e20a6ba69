import { createRuntime } from '../runtime.ts';
import { connectionStatus } from '../operator/connection-status.ts';
import { printIssues } from './status-issues.ts';

/** `trackline status [--conflicts] [--issues]`: connections at a glance, open conflicts, each issue's live state. */
export async function runStatus(values: Record<string, string | boolean | undefined>): Promise<number> {
  // --issues reads the trackers, through the pacers only a worker-side runtime has.
  const runtime = await createRuntime({ role: values.issues ? 'cli' : 'api', migrate: false });
  try {
    const { sql } = runtime.db;
    const [totals] = await sql<{ items: number; open: number; failed: number }[]>`
      select (select count(*)::int from items where version > 0) as items,
        (select count(*)::int from conflicts where status = 'open') as open,
        (select count(*)::int from deliveries where status = 'failed' and created_at > now() - interval '1 day') as failed`;
    console.log(`${totals.items} items · ${totals.open} open conflicts · ${totals.failed} failed deliveries in the last day`);
    for (const c of runtime.connections.all()) {
      const s = await connectionStatus({ sql, connections: runtime.connections }, c.config.id);
      const health = s.reachable === null ? '·' : s.reachable ? '✓' : '✗';
      console.log(`${health} ${s.id} (${s.tracker}, ${s.direction}, ${s.conflictStrategy})`);
      console.log(`    mapped ${s.queue.mapped} · pending ${s.queue.pending} · failed ${s.queue.failed} · conflicts ${s.queue.conflicts}`);
      console.log(
        `    last success ${s.lastSuccessAt ?? 'never'}${s.lastError ? ` · last error ${s.lastError.at}: ${s.lastError.message.slice(0, 120)}` : ''}`,
      );
      const rl = s.rateLimit;
      console.log(
        `    budget ${typeof rl.budget === 'string' ? rl.budget : `${(rl.budget as { requests: number; per: string }).requests}/${(rl.budget as { per: string }).per}`}${rl.remaining !== null ? ` · remaining ${rl.remaining}` : ''}${rl.pausedUntil ? ` · paused until ${rl.pausedUntil}` : ''}${rl.limitedLastHour ? ` · ${rl.limitedLastHour} × 429 in the last hour` : ''}`,
      );
      console.log(
        `    polling ${s.polling.interval}${s.polling.lastPoll ? ` · last poll ${(s.polling.lastPoll as { status: string; at: string }).status} at ${(s.polling.lastPoll as { at: string }).at}` : ''}`,
      );
    }
    if (values.conflicts) {
      const rows = await sql<
        {
          id: string;
          item_key: string;
          connection_id: string;
          field: string;
          local_value: unknown;
          remote_value: unknown;
          reason: string | null;
          created_at: Date;
        }[]
      >`
        select id, item_key, connection_id, field, local_value, remote_value, reason, created_at from conflicts where status = 'open' order by id limit 200`;
      console.log(rows.length ? '\nOpen conflicts (resolve with: trackline resolve ID --use local|remote):' : '\nNo open conflicts.');
      for (const r of rows) {
        console.log(
          `  #${r.id} ${r.item_key} on ${r.connection_id}: ${r.field} local ${JSON.stringify(r.local_value)} vs remote ${JSON.stringify(r.remote_value)}`,
        );
        if (r.reason) console.log(`      ${r.reason}`);
      }
    }
    if (values.issues) {
      const { unreadable } = await printIssues(runtime);
      if (unreadable) return 1;
    }
    return 0;
  } finally {
    await runtime.close();
  }
}
