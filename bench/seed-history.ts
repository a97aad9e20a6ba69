import type { Stack } from './stack.ts';

/**
 * Fills a bench database with the history of an install that has synced `count` items for a
 * while: each item mapped and synced to the Plane connection (with a base), one orchestrator event
 * and one reconcile delivery, two audit rows, and one change on the feed per ten items. Written
 * with `generate_series` in a few statements (about 10 s for 200,000 items here), then analysed so
 * the planner sees the tables as they would be after autovacuum. The remote ids point at no issue
 * in the sandbox: the measured work uses other items, and nothing reads these remotes.
 */
export async function seedHistory(stack: Stack, count: number, connectionId: string): Promise<void> {
  const sql = stack.sql;
  await sql`insert into items (key, kind, desired, version, created_at, updated_at)
    select 'old/' || g, 'task',
      jsonb_build_object('title', 'Old item ' || g, 'state', 'done', 'labels', jsonb_build_array('backend'), 'priority', 'low'),
      2, now() - interval '30 days', now() - interval '20 days'
    from generate_series(1, ${count}) g`;
  await sql`insert into mappings (item_key, connection_id, remote_id, remote_key, remote_url, base, status, synced_version,
      last_synced_at, created_at, updated_at)
    select 'old/' || g, ${connectionId}, md5('old/' || g)::uuid::text, 'ET-' || (100000 + g), 'https://plane.example/ET-' || g,
      jsonb_build_object('title', 'Old item ' || g, 'state', 'done', 'labels', jsonb_build_array('backend'), 'priority', 'low'),
      'synced', 2, now() - interval '20 days', now() - interval '30 days', now() - interval '20 days'
    from generate_series(1, ${count}) g`;
  await sql`insert into deliveries (direction, kind, connection_id, item_key, dedup_key, status, attempts, request, created_at, updated_at)
    select 'in', 'event', null, 'old/' || g, 'old-event-' || g, 'succeeded', 1,
      jsonb_build_object('type', 'item.upserted', 'item', jsonb_build_object('key', 'old/' || g)),
      now() - interval '30 days', now() - interval '30 days'
    from generate_series(1, ${count}) g`;
  await sql`insert into deliveries (direction, kind, connection_id, item_key, dedup_key, status, attempts, result, created_at, updated_at)
    select 'out', 'reconcile', ${connectionId}, 'old/' || g, 'old-reconcile-' || g, 'succeeded', 1,
      jsonb_build_object('action', 'created'), now() - interval '30 days', now() - interval '30 days'
    from generate_series(1, ${count}) g`;
  await sql`insert into activity (item_key, actor, action, connection_id, detail, at)
    select 'old/' || g, 'agent:planner', a, ${connectionId}, '{}'::jsonb, now() - interval '30 days'
    from generate_series(1, ${count}) g, unnest(array['event.received', 'sync.created']) a`;
  await sql`insert into changes (item_key, connection_id, type, fields, actor, at, notified_at, callback_status)
    select 'old/' || g, ${connectionId}, 'item.changed', '{"state":{"from":"doing","to":"done"}}'::jsonb, 'plane:alice',
      now() - interval '25 days', now() - interval '25 days', 'delivered'
    from generate_series(10, ${count}, 10) g`;
  await sql`analyze`;
}
