import type { Connection } from '../port/connection.ts';
import type { PullRequestStore } from '../port/store.ts';
import type { CallContext } from '../port/tracker.ts';

/**
 * What the pull request step would do for the pair, for the dry run: "would open PR feature/WP02 →
 * main (draft)" when the item has a branch, is in an `open_when` state and has no pull request
 * from that branch yet. Reads only (the default branch, when `base` is unset).
 */
export async function planPullRequest(
  store: PullRequestStore,
  connection: Connection,
  itemKey: string,
  ctx: CallContext = {},
): Promise<string | null> {
  const config = connection.config;
  const prConfig = config.tracker === 'github' ? config.pull_requests : undefined;
  const host = connection.adapter().pullRequests;
  if (!prConfig?.auto_create || !host) return null;
  const { item, rows } = await store.loadPair(itemKey, config.id);
  if (!item || item.deleted || !item.branch || !item.desired.state || !prConfig.open_when.includes(item.desired.state)) return null;
  const existing = rows.find((r) => r.connectionId === config.id && r.head === item.branch);
  if (existing?.number) return null;
  const base = prConfig.base ?? (await host.defaultBase(ctx));
  if (existing?.failedFor === `${item.branch} → ${prConfig.base ?? '(default branch)'}`)
    return `would not open PR ${item.branch} → ${base}: GitHub refused it (${existing.lastError ?? 'see its pull_request delivery'})`;
  return `would open PR ${item.branch} → ${base}${prConfig.draft ? ' (draft)' : ''}`;
}
