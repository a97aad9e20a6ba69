import type { Sql } from '../../db/client.ts';
import type { Connection } from '../port/connection.ts';
import { TrackerError } from '../port/errors.ts';
import type { PullRequestHost, RemotePullRequest } from '../port/pull-requests.ts';
import type { CallContext } from '../port/tracker.ts';
import {
  applyPullRequest,
  loadPullRequestItem,
  loadPullRequests,
  recordLink,
  recordLinked,
  recordOpenFailure,
  recordOpenIntent,
  recordReviewersRequested,
  type PullRequestItem,
  type PullRequestRow,
} from './store.ts';

/**
 * The pull request part of one (item, connection) reconcile, run by the reconcile job after the
 * issue is synced, one pair at a time like the rest of the reconcile:
 * - on a github connection with `[connections.pull_requests]`: adopt the pull request an event
 *   linked, open one from the item's branch when the item reaches an `open_when` state (exactly
 *   once), request reviews, and read the pull requests a webhook or a poll flagged;
 * - on a connection whose tracker shows links (Plane, Jira): write a link to each of the item's
 *   pull requests on the item's issue, once, and rewrite it when the title or state changes.
 */

export interface PullRequestOutcome {
  opened: number[];
  adopted: number[];
  read: number;
  links: number;
  changeIds: number[];
  /** A pull request's state or title changed: the other connections' links need rewriting. */
  changed: boolean;
  /** state_map moved the item: every connection carrying it syncs the new state. */
  itemMoved: boolean;
  /** GitHub refused to open it for good (its message); the issue sync itself went through. */
  failure: { subject: string; message: string } | null;
  warnings: string[];
}

export async function syncPullRequests(
  sql: Sql,
  connection: Connection,
  itemKey: string,
  ctx: CallContext,
): Promise<PullRequestOutcome | null> {
  const adapter = connection.adapter();
  const config = connection.config;
  const prConfig = config.tracker === 'github' ? config.pull_requests : undefined;
  const host = prConfig ? adapter.pullRequests : undefined;
  const linkHost = adapter.pullRequestLinks;
  if (!host && !linkHost) return null;
  // Most items have no pull request: a connection that only shows links asks one question, and stops.
  const known = host ? null : await loadPullRequests(sql, itemKey);
  if (known && !known.some((r) => r.number !== null && r.url && r.state)) return null;
  const item = await loadPullRequestItem(sql, itemKey);
  if (!item || item.deleted) return null;
  const outcome: PullRequestOutcome = {
    opened: [],
    adopted: [],
    read: 0,
    links: 0,
    changeIds: [],
    changed: false,
    itemMoved: false,
    failure: null,
    warnings: [],
  };
  const note = (applied: { changeIds: number[]; changed: boolean; itemMoved: boolean }) => {
    outcome.changeIds.push(...applied.changeIds);
    outcome.changed ||= applied.changed;
    outcome.itemMoved ||= applied.itemMoved;
  };

  if (host && prConfig) {
    const [mapping] = await sql<
      { remote_id: string | null }[]
    >`select remote_id from mappings where item_key = ${itemKey} and connection_id = ${config.id}`;
    let rows = (await loadPullRequests(sql, itemKey)).filter((r) => r.connectionId === config.id);
    const apply = async (row: PullRequestRow, pr: RemotePullRequest) =>
      note(
        await applyPullRequest(sql, { row, pr, connectionId: config.id, stateMap: prConfig.state_map, seenChangeAt: row.remoteChangedAt }),
      );

    // links.pull_request: a pull request a person opened, followed from now on.
    const linked = item.pullRequestLink ? Number(item.pullRequestLink) : null;
    if (linked !== null && !rows.some((r) => r.number === linked)) {
      try {
        const pr = await host.get(linked, ctx);
        const row = await recordLinked(sql, itemKey, config.id, pr);
        if ('takenBy' in row) outcome.warnings.push(`pull request #${linked} already carries item "${row.takenBy}"`);
        else {
          await apply(row, pr);
          outcome.adopted.push(pr.number);
        }
      } catch (error) {
        // A number GitHub does not know: the link fails on its own; the issue keeps syncing.
        if (!(error instanceof TrackerError) || error.retryable) throw error;
        outcome.failure = { subject: `link #${linked}`, message: error.message };
      }
      rows = (await loadPullRequests(sql, itemKey)).filter((r) => r.connectionId === config.id);
    }

    // Opening, exactly once: the intent is committed before the call.
    const want = wantsPullRequest(item, prConfig);
    if (want) {
      const existing = rows.find((r) => r.head === want.head);
      const failedFor = `${want.head} → ${prConfig.base ?? '(default branch)'}`;
      if (!existing?.number && existing?.failedFor !== failedFor) {
        const hadIntent = existing?.createIntentAt != null;
        const row = await recordOpenIntent(sql, itemKey, config.id, want.head, prConfig.base ?? null);
        try {
          const found = hadIntent ? await host.findOpen(want.head, ctx) : null;
          const result = found
            ? { pullRequest: found, adopted: true }
            : await host.open(
                {
                  head: want.head,
                  base: prConfig.base,
                  title: item.desired.title ?? itemKey,
                  body: item.desired.body ?? '',
                  closesIssue: mapping?.remote_id ?? null,
                  draft: prConfig.draft,
                },
                ctx,
              );
          await apply(row, result.pullRequest);
          (result.adopted ? outcome.adopted : outcome.opened).push(result.pullRequest.number);
        } catch (error) {
          // Unknown branch, nothing to merge: GitHub's word is final for this head and base. The
          // item keeps syncing; a new branch or base (or an operator's retry) tries again.
          if (!(error instanceof TrackerError) || error.retryable) throw error;
          await recordOpenFailure(sql, row.id, failedFor, error.message);
          outcome.failure = { subject: `open ${want.head}`, message: error.message };
        }
      }
    }

    rows = (await loadPullRequests(sql, itemKey)).filter((r) => r.connectionId === config.id);
    // Reviews, once per pull request Trackline opened (a retry after a failed request asks again).
    for (const row of rows) {
      if (row.origin === 'opened' && row.number !== null && row.reviewersRequestedAt === null && prConfig.request_review) {
        await requestReviews(sql, host, connection, row, item, ctx, outcome);
      }
    }

    // What webhooks and polls flagged: read it, and record what changed.
    for (const row of rows) {
      if (!row.number || !row.remoteChangedAt || outcome.opened.includes(row.number) || outcome.adopted.includes(row.number)) continue;
      await apply(row, await host.get(row.number, ctx));
      outcome.read++;
    }
  }

  if (linkHost) {
    const [mapping] = await sql<{ remote_id: string | null; remote_key: string | null }[]>`
      select remote_id, remote_key from mappings where item_key = ${itemKey} and connection_id = ${config.id} and status not in ('deleted', 'remote_deleted')`;
    if (mapping?.remote_id) {
      for (const row of known ?? (await loadPullRequests(sql, itemKey))) {
        if (row.number === null || !row.url || !row.state) continue;
        const title = `PR #${row.number}: ${row.title ?? ''}`.trim();
        const written = row.links[config.id];
        if (written && written.title === title && written.state === row.state) continue;
        const id = await linkHost.upsertLink(
          { id: mapping.remote_id, key: mapping.remote_key },
          { url: row.url, number: row.number, title: row.title ?? '', state: row.state },
          written?.id ?? null,
          ctx,
        );
        await recordLink(sql, row.id, config.id, { id, title, state: row.state });
        outcome.links++;
      }
    }
  }
  return outcome;
}

/** The branch to open a pull request from, when the item has one and is in an `open_when` state. */
function wantsPullRequest(item: PullRequestItem, config: { auto_create: boolean; open_when: string[] }): { head: string } | null {
  if (!config.auto_create || !item.branch || !item.desired.state) return null;
  return config.open_when.includes(item.desired.state) ? { head: item.branch } : null;
}

/**
 * Reviews are asked once per pull request Trackline opened. A reviewer GitHub refuses (not a
 * collaborator, the author) is reported on the delivery, not fatal: the pull request stands.
 */
async function requestReviews(
  sql: Sql,
  host: PullRequestHost,
  connection: Connection,
  row: PullRequestRow,
  item: PullRequestItem,
  ctx: CallContext,
  outcome: PullRequestOutcome,
): Promise<void> {
  const config = connection.config;
  const prConfig = config.tracker === 'github' ? config.pull_requests : undefined;
  if (!prConfig?.request_review) return;
  const fromAssignees = prConfig.reviewers_from_assignees ? (item.desired.assignees ?? []).map((a) => config.user_map[a] ?? a) : [];
  const number = row.number!;
  // GitHub refuses a review request to the author; Trackline's token opened it.
  const author = (await host.get(number, ctx)).author ?? '';
  const reviewers = [...new Set([...prConfig.reviewers, ...fromAssignees])].filter((r) => r.toLowerCase() !== author.toLowerCase());
  try {
    await host.requestReviewers(number, reviewers, prConfig.team_reviewers, ctx);
  } catch (error) {
    if (!(error instanceof TrackerError) || error.retryable) throw error;
    outcome.warnings.push(`reviewers for pull request #${number}: ${error.message}`);
  }
  await recordReviewersRequested(sql, row.id);
}
