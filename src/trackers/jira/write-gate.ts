import type { JiraConnectionConfig } from '../../config/schema.ts';
import type { PacerRegistry } from '../../pacing/registry.ts';
import type { WindowLimit } from '../../pacing/window-gate.ts';
import type { IssueWriteGate } from './api.ts';

/**
 * Jira's per-issue write limits: "20 write operations per 2 seconds" and "100 write operations per
 * 30 seconds" on one issue, answered with 429 and `RateLimit-Reason: jira-per-issue-on-write`
 * (docs/trackers.md 4.6). Trackline stays 10% under both, because Jira counts when a write
 * arrives and we count when it leaves: network jitter can bunch writes up on the way.
 */
export const PER_ISSUE_WRITE_WINDOWS: WindowLimit[] = [
  { limit: 18, perMs: 2_000 },
  { limit: 90, perMs: 30_000 },
];

/**
 * One gate per Jira site: the limits count every writer of the issue, so every connection and
 * process writing to the same site shares the windows (issue ids are unique within a site).
 */
export function jiraIssueWriteGate(config: JiraConnectionConfig, pacers: PacerRegistry): IssueWriteGate {
  return pacers.windowGate(
    `jira-issue-writes:${new URL(config.base_url).origin}${new URL(config.base_url).pathname.replace(/\/$/, '')}`,
    PER_ISSUE_WRITE_WINDOWS,
  );
}
