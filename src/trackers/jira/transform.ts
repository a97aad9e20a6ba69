import { createHash } from 'node:crypto';
import type { FieldValues } from '../../sync/fields.ts';
import type { RemoteIssue } from '../../sync/port/tracker.ts';
import { adfToMarkdown, markdownToAdf } from './adf.ts';
import { MARKER_LABEL_PREFIX, type AdfDoc, type AdfNode, type JiraIssue } from './wire.ts';

/**
 * Pure mapping between Jira's wire objects and normalized fields, plus the JQL Trackline writes.
 * No I/O: every function here is unit-tested against fixtures.
 */

// ------------------------------------------------------------------------------ fields

export function issueToFields(issue: JiraIssue): FieldValues {
  const f = issue.fields ?? {};
  return {
    title: f.summary ?? '',
    body: adfToMarkdown(f.description ?? null),
    state: f.status?.name,
    labels: visibleLabels(f.labels ?? []).sort(),
    // Jira has one assignee, named by accountId; user_map translates it to the local name.
    assignees: f.assignee?.accountId ? [f.assignee.accountId] : [],
    priority: f.priority?.name ?? null,
    milestone: milestoneOf(f.fixVersions ?? []),
  };
}

/**
 * The item's milestone is the issue's fix version. An issue may carry several (Trackline writes
 * one and keeps the others a person set); then the milestone reads as the last one Jira lists.
 */
export function milestoneOf(versions: Array<{ name: string }>): string | null {
  return versions.at(-1)?.name ?? null;
}

export function toRemoteIssue(issue: JiraIssue, baseUrl: string): RemoteIssue {
  const updated = issue.fields?.updated ? parseJiraTime(issue.fields.updated) : NaN;
  return {
    id: String(issue.id),
    key: issue.key,
    url: issueWebUrl(baseUrl, issue.key),
    fields: issueToFields(issue),
    updatedAt: Number.isFinite(updated) ? new Date(updated).toISOString() : undefined,
  };
}

/** Where a person opens the issue: `{site}/browse/ET-12`. */
export function issueWebUrl(baseUrl: string, key: string): string {
  return `${baseUrl.replace(/\/$/, '')}/browse/${encodeURIComponent(key)}`;
}

/** Jira's summary is one line of at most 255 characters; anything else is a 400. */
export function summaryFor(title: string): string {
  const line = title.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return line.length > 255 ? `${line.slice(0, 254)}…` : line;
}

/** A description: ADF, or null for an empty body (Jira stores "no description" as null). */
export function descriptionFor(markdown: string): AdfDoc | null {
  return markdown.trim() ? markdownToAdf(markdown) : null;
}

// ------------------------------------------------------------------------------ the marker

/**
 * The label that marks an issue as carrying an item. Labels are what JQL can search for an API
 * token client: entity properties are searchable only once an app declares an index for them,
 * which a basic-auth client cannot do. Labels may not contain spaces (Jira answers 400), so an
 * item key with whitespace, or a very long one, is hashed.
 */
export function markerLabel(itemKey: string): string {
  if (/^\S{1,200}$/u.test(itemKey)) return `${MARKER_LABEL_PREFIX}${itemKey}`;
  return `${MARKER_LABEL_PREFIX}#${createHash('sha256').update(itemKey).digest('hex').slice(0, 32)}`;
}

export function isMarkerLabel(label: string): boolean {
  return label.startsWith(MARKER_LABEL_PREFIX);
}

/** The labels people see and the engine syncs: the marker is Trackline's, never a field value. */
export function visibleLabels(labels: string[]): string[] {
  return labels.filter((l) => !isMarkerLabel(l));
}

// ------------------------------------------------------------------------------ comments

/**
 * Trackline's comments end with a short attribution line that also carries the comment id.
 * It is the marker that makes a re-send a no-op (Jira has no external id on comments) and tells
 * the webhook handler a comment is Trackline's own. It must live in the body: comment_created
 * payloads carry the body but not the comment's entity properties (docs/trackers.md 4.4).
 */
const FOOTER = /^Posted by Trackline(?: for (.+))? \[tl-c(\d+)\]$/;

export function commentFooter(commentId: number, actor?: string | null): string {
  return actor ? `Posted by Trackline for ${actor} [tl-c${commentId}]` : `Posted by Trackline [tl-c${commentId}]`;
}

export function commentToAdf(markdown: string, commentId: number, actor?: string | null): AdfDoc {
  const doc = markdownToAdf(markdown);
  const footer: AdfNode = {
    type: 'paragraph',
    content: [{ type: 'text', text: commentFooter(commentId, actor?.replace(/\s+/g, ' ')), marks: [{ type: 'em' }] }],
  };
  return { ...doc, content: [...doc.content, footer] };
}

export interface ReadComment {
  /** Markdown, without Trackline's footer. */
  body: string;
  /** Set when Trackline posted it. */
  commentId?: number;
  actor?: string;
}

export function readCommentBody(doc: AdfDoc | null | undefined): ReadComment {
  const content = doc?.content ?? [];
  const last = content.at(-1);
  if (last?.type === 'paragraph') {
    const text = (last.content ?? []).map((n) => n.text ?? '').join('');
    const match = FOOTER.exec(text);
    if (match) {
      const rest = { ...(doc as AdfDoc), content: content.slice(0, -1) };
      return { body: adfToMarkdown(rest), commentId: Number(match[2]), ...(match[1] ? { actor: match[1] } : {}) };
    }
  }
  return { body: adfToMarkdown(doc ?? null) };
}

// ------------------------------------------------------------------------------ time and JQL

/**
 * Jira's timestamps look like `2026-05-01T10:00:00.000+0000`; the offset without a colon is not
 * ISO 8601, so it is normalized before parsing.
 */
export function parseJiraTime(value: string): number {
  return Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}

/** A JQL string literal. */
export function jqlQuote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function zoneParts(ms: number, timeZone: string): Record<string, number> {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const out: Record<string, number> = {};
  for (const p of parts) if (p.type !== 'literal') out[p.type] = Number(p.value);
  return out;
}

function safeZone(timeZone: string | undefined): string {
  if (!timeZone) return 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return timeZone;
  } catch {
    return 'UTC';
  }
}

/** The zone's offset from UTC at an instant, in ms. */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const p = zoneParts(ms, safeZone(timeZone));
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour % 24, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * A JQL date literal for an instant. JQL dates have minute precision and are read in the
 * requesting user's time zone (docs/trackers.md 4.5), so the instant is written in that zone.
 */
export function formatJqlDate(ms: number, timeZone: string): string {
  const p = zoneParts(ms, safeZone(timeZone));
  const two = (n: number) => String(n).padStart(2, '0');
  return `${p.year}-${two(p.month)}-${two(p.day)} ${two(p.hour % 24)}:${two(p.minute)}`;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Where a poll window starts for a cursor: the cursor's minute minus one more minute, because
 * JQL compares at minute precision (an issue updated at 10:00:59 must still match a cursor of
 * 10:00:30). Near a daylight-saving change a local time can name two instants; the window then
 * starts one hour earlier so Jira's reading of it can never fall after the cursor. Repeats are
 * fine: the engine ignores what it has already seen.
 */
export function pollWindowStart(cursorMs: number, timeZone: string): number {
  let start = Math.floor(cursorMs / MINUTE) * MINUTE - MINUTE;
  const zone = safeZone(timeZone);
  const offset = zoneOffsetMs(start, zone);
  if (zoneOffsetMs(start - HOUR, zone) !== offset || zoneOffsetMs(start + HOUR, zone) !== offset) start -= HOUR;
  return start;
}

/**
 * The poll's JQL: bounded by project (search/jql refuses unbounded queries), oldest change first
 * so each page's newest `updated` is a safe cursor, `key` as a tie-breaker for a stable order.
 */
export function pollJql(projectKey: string, cursor: string | null, timeZone: string): string {
  let jql = `project = ${jqlQuote(projectKey)}`;
  const since = cursor ? Date.parse(cursor) : NaN;
  if (Number.isFinite(since)) jql += ` AND updated >= ${jqlQuote(formatJqlDate(pollWindowStart(since, timeZone), timeZone))}`;
  return `${jql} ORDER BY updated ASC, key ASC`;
}

/** The newer of two ISO cursors (null-safe). */
export function laterCursor(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}
