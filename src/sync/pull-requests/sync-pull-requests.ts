import type { Connection } from '../port/connection.ts';
import { TrackerError } from '../port/errors.ts';
import { isRefusedLinkHead, refusedLinkHead, type PullRequestHost, type RemotePullRequest } from '../port/pull-requests.ts';
import type { PullRequestHint, PullRequestItem, PullRequestRow, PullRequestStore } from '../port/store.ts';
import type { CallContext } from '../port/tracker.ts';

/**
 * The pull request part of one (item, connection) reconcile, run by the reconcile job after the
 * issue is synced, one pair at a time like the rest of the reconcile:
 * - on a github connection with `[connections.pull_requests]`: adopt the pull request an event
 *   linked, open one from the item's branch when the item reaches an `open_when` state (exactly
 *   once), request reviews (and again when a reviewer asked for changes and the item is back in
 *   an `open_when` state with new commits), read the pull requests a webhook or a poll flagged,
 *   and detach those that are no longer the item's;
 * - on a connection whose tracker shows links (Plane, Jira): write a link to each of the item's
 *   pull requests on the item's issue, once, rewrite it when the title or state changes, and
 *   remove the link of a pull request that is no longer the item's.
 */

export interface PullRequestOutcome {
  opened: number[];
  adopted: number[];
  read: number;
  links: number;
  linksRemoved: number;
  detached: number[];
  /** Reviewers asked again after they asked for changes. */
  reviewsRequestedAgain: string[];
  changeIds: number[];
  /** A pull request's state or title changed, or one was detached: the other connections' links need rewriting. */
  changed: boolean;
  /** state_map moved the item: every connection carrying it syncs the new state. */
  itemMoved: boolean;
  /** GitHub refused for good (its message); the issue sync itself went through. */
  failure: { subject: string; message: string } | null;
  warnings: string[];
}

/**
 * Whether the pair can have pull request work at all, from what the reconcile's first read said
 * of the item (no query of its own): an item with no branch, no linked pull request and no pull
 * request rows has none. Unknown (no hint) runs the step.
 */
export function mayHavePullRequestWork(connection: Connection, hint: PullRequestHint | undefined): boolean {
  const adapter = connection.adapter();
  const config = connection.config;
  const host = config.tracker === 'github' && config.pull_requests ? adapter.pullRequests : undefined;
  if (!host && !adapter.pullRequestLinks) return false;
  if (!hint) return true;
  return hint.known || (host !== undefined && (hint.branch !== null || hint.link !== null));
}

export async function syncPullRequests(
  store: PullRequestStore,
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
  // One query: the item, its issue on this connection and all its pull requests.
  const pair = await store.loadPair(itemKey, config.id);
  const item = pair.item;
  if (!item || item.deleted) return null;
  if (!host && !pair.rows.some((r) => r.number !== null && (r.links[config.id] || (r.url && r.state)))) return null;
  const outcome: PullRequestOutcome = {
    opened: [],
    adopted: [],
    read: 0,
    links: 0,
    linksRemoved: 0,
    detached: [],
    reviewsRequestedAgain: [],
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
  const actor = `sync:${config.id}`;

  if (host && prConfig) {
    let rows = pair.rows.filter((r) => r.connectionId === config.id);
    const reload = async () => {
      rows = (await store.rows(itemKey)).filter((r) => r.connectionId === config.id);
    };
    const apply = async (row: PullRequestRow, pr: RemotePullRequest) =>
      note(await store.apply({ row, pr, connectionId: config.id, stateMap: prConfig.state_map, seenChangeAt: row.remoteChangedAt }));
    const detach = async (row: PullRequestRow, reason: string) => {
      await store.detach(row.id, actor, reason);
      outcome.detached.push(row.number!);
      outcome.changed = true;
    };

    // links.pull_request: a pull request a person opened, followed from now on. The one it named
    // before, if any, is no longer the item's.
    const linked = item.pullRequestLink ? Number(item.pullRequestLink) : null;
    let changedRows = false;
    for (const row of rows) {
      if (row.origin === 'linked' && row.number !== null && row.number !== linked) {
        await detach(row, linked === null ? 'links.pull_request was cleared' : `links.pull_request names #${linked} now`);
        changedRows = true;
      }
    }
    const staleRefusal = (r: PullRequestRow) =>
      r.number === null && r.origin === 'linked' && isRefusedLinkHead(r.head) && (linked === null || r.head !== refusedLinkHead(linked));
    if (rows.some(staleRefusal)) {
      await store.dropLinkRefusals(itemKey, config.id, linked);
      changedRows = true;
    }
    // Refused once: GitHub's 404 for this number stands until the link changes or an operator retries.
    const refused = linked !== null && rows.some((r) => r.number === null && r.failedFor === `link #${linked}`);
    if (linked !== null && !refused && !rows.some((r) => r.number === linked && r.origin !== 'detached')) {
      try {
        const pr = await host.get(linked, ctx);
        const row = await store.recordLinked(itemKey, config.id, pr);
        if ('takenBy' in row) outcome.warnings.push(`pull request #${linked} already carries item "${row.takenBy}"`);
        else {
          await apply(row, pr);
          outcome.adopted.push(pr.number);
          outcome.changed = true;
        }
      } catch (error) {
        // A number GitHub does not know: the link fails on its own, once; the issue keeps syncing.
        if (!(error instanceof TrackerError) || error.retryable) throw error;
        const message = `links.pull_request #${linked}: ${error.status === 404 ? `GitHub has no pull request #${linked} in this repository (${error.message})` : error.message}`;
        await store.recordLinkRefused(itemKey, config.id, linked, message);
        outcome.failure = { subject: `link #${linked}`, message };
      }
      changedRows = true;
    }
    if (changedRows) await reload();

    // Opening, exactly once: the intent is committed before the call.
    const want = wantsPullRequest(item, prConfig);
    if (want) {
      const existing = rows.find((r) => r.head === want.head);
      const failedFor = `${want.head} → ${prConfig.base ?? '(default branch)'}`;
      if (!existing?.number && existing?.failedFor !== failedFor) {
        const hadIntent = existing?.createIntentAt != null;
        const row = await store.recordOpenIntent(itemKey, config.id, want.head, prConfig.base ?? null);
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
                  closesIssue: pair.mapping?.remoteId ?? null,
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
          await store.recordOpenFailure(row.id, failedFor, error.message);
          outcome.failure = { subject: `open ${want.head}`, message: error.message };
        }
        await reload();
      }
    }

    // Reviews, once per pull request Trackline opened (a retry after a failed request asks again).
    for (const row of rows) {
      if (row.origin === 'opened' && row.number !== null && row.reviewersRequestedAt === null && prConfig.request_review) {
        await requestReviews(store, host, connection, row, item, ctx, outcome);
      }
    }

    // What webhooks and polls flagged: read it, and record what changed. A person's pull request
    // that no longer says it closes the item's issue is no longer the item's.
    const read = new Map<number, RemotePullRequest>();
    for (const row of rows) {
      if (!row.number || !row.remoteChangedAt || outcome.opened.includes(row.number) || outcome.adopted.includes(row.number)) continue;
      const pr = await host.get(row.number, ctx);
      read.set(row.number, pr);
      outcome.read++;
      const closesIssue = pair.mapping?.remoteId != null && pr.closes.includes(pair.mapping.remoteId);
      if (row.origin === 'detached') {
        if (!closesIssue) {
          await store.clearRemoteChange(row.id, row.remoteChangedAt);
          continue;
        }
        await store.reattach(row.id, 'closes');
        outcome.changed = true;
      }
      await apply(row, pr);
      if (row.origin === 'closes' && !closesIssue) await detach(row, `its body no longer closes #${pair.mapping?.remoteId ?? '?'}`);
    }

    // Review requested again: a reviewer asked for changes, new commits came since, and the item
    // is back in an open_when state (the orchestrator says the work is ready for review again).
    if (prConfig.request_review && item.desired.state && prConfig.open_when.includes(item.desired.state)) {
      for (const row of rows) {
        if (row.origin !== 'opened' || row.number === null || row.state !== 'changes_requested' || !row.reviewersRequestedAt) continue;
        await requestReviewsAgain(store, host, row, read.get(row.number) ?? (await host.get(row.number, ctx)), ctx, outcome);
      }
    }
  }

  if (linkHost && pair.mapping?.remoteId) {
    const ref = { id: pair.mapping.remoteId, key: pair.mapping.remoteKey };
    const rows = outcome.changed ? await store.rows(itemKey) : pair.rows;
    for (const row of rows) {
      const written = row.links[config.id];
      if (row.origin === 'detached') {
        // No longer the item's pull request: its link goes, once.
        if (written && row.url) {
          await linkHost.removeLink(ref, row.url, written.id, ctx);
          await store.recordLinkRemoved(row.id, config.id);
          outcome.linksRemoved++;
        }
        continue;
      }
      if (row.number === null || !row.url || !row.state) continue;
      const title = `PR #${row.number}: ${row.title ?? ''}`.trim();
      if (written && written.title === title && written.state === row.state) continue;
      const id = await linkHost.upsertLink(
        ref,
        { url: row.url, number: row.number, title: row.title ?? '', state: row.state },
        written?.id ?? null,
        ctx,
      );
      if (await store.recordLink(row.id, config.id, { id, title, state: row.state })) outcome.links++;
      else {
        // Detached (or gone) while the link was being written: it is not the item's any more.
        await linkHost.removeLink(ref, row.url, id, ctx);
        outcome.linksRemoved++;
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
  store: PullRequestStore,
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
  await store.recordReviewersRequested(row.id);
}

/**
 * GitHub's "re-request review": the same POST …/requested_reviewers puts a reviewer who already
 * reviewed back on the list. Asked of each reviewer whose latest deciding review asks for changes,
 * given on an older commit than the head (new commits since), after Trackline last asked, and who
 * is not on the list already; so each request for changes is answered by at most one new request.
 */
async function requestReviewsAgain(
  store: PullRequestStore,
  host: PullRequestHost,
  row: PullRequestRow,
  pr: RemotePullRequest,
  ctx: CallContext,
  outcome: PullRequestOutcome,
): Promise<void> {
  // GitHub's review times are whole seconds: a review in the same second as the last request counts as after it.
  const asked = Math.floor(row.reviewersRequestedAt!.getTime() / 1000) * 1000;
  const again = pr.changesRequested
    .filter((r) => r.commit !== null && pr.headSha !== null && r.commit !== pr.headSha)
    .filter((r) => Date.parse(r.at) >= asked)
    .filter((r) => !pr.requestedReviewers.some((login) => login.toLowerCase() === r.reviewer.toLowerCase()))
    .map((r) => r.reviewer);
  if (!again.length) return;
  try {
    await host.requestReviewers(pr.number, again, [], ctx);
    outcome.reviewsRequestedAgain.push(...again);
  } catch (error) {
    if (!(error instanceof TrackerError) || error.retryable) throw error;
    outcome.warnings.push(`reviewers for pull request #${pr.number} (asked again): ${error.message}`);
  }
  await store.recordReviewersRequested(row.id);
}
