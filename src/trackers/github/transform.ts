import type { FieldValues } from '../../sync/fields.ts';
import type { GhIssue, GhLabel } from './wire.ts';

/**
 * Pure mapping between GitHub issues and normalized fields. GitHub keeps bodies as markdown, like
 * Trackline's items, so bodies pass through; what needs care is the state, which GitHub splits
 * between `state`/`state_reason` and (by team convention) a status label.
 */

// ---- the item marker ------------------------------------------------------------------------

/**
 * A hidden HTML comment in the issue body says which item the issue carries. GitHub has no
 * external-id field and no duplicate guard, so this is what finds the issue again after a crash
 * between "created" and "recorded" (DESIGN 3, exactly-once create). Markdown renders it invisibly.
 */
const ITEM_MARKER = /[ \t\r\n]*<!-- trackline:item=([^\s>]+) -->[ \t]*/g;
const COMMENT_MARKER = /[ \t\r\n]*<!-- trackline:comment=(\d+) -->[ \t]*/g;

export function itemMarker(itemKey: string): string {
  return `<!-- trackline:item=${encodeURIComponent(itemKey)} -->`;
}

/** The body as written to GitHub: the item's markdown, then the marker on its own line. */
export function withItemMarker(body: string, itemKey: string): string {
  const text = stripItemMarker(body);
  return text ? `${text}\n\n${itemMarker(itemKey)}` : itemMarker(itemKey);
}

/**
 * The body as people wrote it: marker removed wherever it is, and line ends as LF. Edits in the
 * web UI arrive with CRLF; reading both the same way keeps the base stable (no echo).
 */
export function stripItemMarker(body: string | null | undefined): string {
  return (body ?? '').replace(/\r\n/g, '\n').replace(ITEM_MARKER, '').replace(/\s+$/, '');
}

/** The item key an issue body is marked with, or null. */
export function itemKeyOf(body: string | null | undefined): string | null {
  const match = /<!-- trackline:item=([^\s>]+) -->/.exec(body ?? '');
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
}

export function commentMarker(commentId: number): string {
  return `<!-- trackline:comment=${commentId} -->`;
}

export function hasCommentMarker(body: string | null | undefined, commentId?: number): boolean {
  if (commentId === undefined) return /<!-- trackline:comment=\d+ -->/.test(body ?? '');
  return (body ?? '').includes(commentMarker(commentId));
}

export function stripCommentMarker(body: string | null | undefined): string {
  return (body ?? '').replace(/\r\n/g, '\n').replace(COMMENT_MARKER, '').replace(/\s+$/, '');
}

/** A comment as posted for the orchestrator: who said it, what, and the marker that dedups it. */
export function commentBody(commentId: number, body: string, actor?: string | null): string {
  const said = actor ? `_${actor}_:\n\n${body}` : body;
  return `${said}\n\n${commentMarker(commentId)}`;
}

// ---- state ----------------------------------------------------------------------------------

/**
 * What a state_map value means on GitHub. Values are `closed` (closed as completed),
 * `closed:not_planned`, `open`, or a label name: open, carrying that one status label.
 */
export type GitHubState = { open: false; reason: 'completed' | 'not_planned' } | { open: true; label: string | null };

export const CLOSED = 'closed';
export const CLOSED_NOT_PLANNED = 'closed:not_planned';
export const OPEN = 'open';

/** The status labels and closing reasons a connection's state_map uses. */
export class StateModel {
  /** Status labels in state_map order, as spelt in the config. */
  readonly statusLabels: readonly string[];
  private readonly byLower: Map<string, string>;
  readonly mapsNotPlanned: boolean;

  constructor(stateMap: Record<string, string>) {
    const values = Object.values(stateMap);
    const labels: string[] = [];
    for (const v of values) {
      if (v === CLOSED || v === CLOSED_NOT_PLANNED || v === OPEN) continue;
      if (!labels.some((l) => l.toLowerCase() === v.toLowerCase())) labels.push(v);
    }
    this.statusLabels = labels;
    this.byLower = new Map(labels.map((l) => [l.toLowerCase(), l]));
    this.mapsNotPlanned = values.includes(CLOSED_NOT_PLANNED);
  }

  /** GitHub label names are unique case-insensitively; the config's spelling is the canonical one. */
  statusLabel(name: string): string | undefined {
    return this.byLower.get(name.toLowerCase());
  }

  isStatusLabel(name: string): boolean {
    return this.byLower.has(name.toLowerCase());
  }

  /** Parses a remote state value; null when it is none of the forms and no mapped status label. */
  parse(value: string): GitHubState | null {
    if (value === CLOSED) return { open: false, reason: 'completed' };
    if (value === CLOSED_NOT_PLANNED) return { open: false, reason: 'not_planned' };
    if (value === OPEN) return { open: true, label: null };
    const label = this.statusLabel(value);
    return label ? { open: true, label } : null;
  }

  /**
   * The state value an issue is in. Closed: by its reason (a duplicate counts as not planned, and
   * not planned reads as plain `closed` when the map has no `closed:not_planned`). Open: the status
   * label it carries; if a person left two, the one listed later in state_map wins, because adding
   * the next status without removing the previous one is the usual way a person moves an issue on.
   */
  read(issue: Pick<GhIssue, 'state' | 'state_reason' | 'labels'>): string {
    if (issue.state === 'closed') {
      const notPlanned = issue.state_reason === 'not_planned' || issue.state_reason === 'duplicate';
      return notPlanned && this.mapsNotPlanned ? CLOSED_NOT_PLANNED : CLOSED;
    }
    const present = new Set(labelNames(issue.labels).map((n) => n.toLowerCase()));
    let found: string | null = null;
    for (const label of this.statusLabels) if (present.has(label.toLowerCase())) found = label;
    return found ?? OPEN;
  }
}

// ---- fields ---------------------------------------------------------------------------------

export function labelNames(labels: Array<string | GhLabel> | undefined): string[] {
  return (labels ?? []).map((l) => (typeof l === 'string' ? l : l.name)).filter((n): n is string => Boolean(n));
}

/** Normalized fields of an issue: `state` in state_map value form, `labels` without status labels. */
export function issueToFields(issue: GhIssue, model: StateModel): FieldValues {
  return {
    title: issue.title,
    body: stripItemMarker(issue.body),
    state: model.read(issue),
    labels: labelNames(issue.labels)
      .filter((n) => !model.isStatusLabel(n))
      .sort(),
    assignees: (issue.assignees ?? []).map((a) => a.login).sort(),
    milestone: issue.milestone?.title ?? null,
  };
}

/**
 * The whole label set for a PATCH (GitHub replaces the set: trackers.md 3.4): the non-status
 * labels wanted, plus at most one status label. Status labels in `nonStatus` are dropped, so a
 * status can only change through `state`.
 */
export function composeLabels(nonStatus: string[], statusLabel: string | null, model: StateModel): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const name of [...nonStatus.filter((n) => !model.isStatusLabel(n)), ...(statusLabel ? [statusLabel] : [])]) {
    if (seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    out.push(name);
  }
  return out;
}

export function sameLabelSet(a: string[], b: string[]): boolean {
  const x = new Set(a.map((n) => n.toLowerCase()));
  const y = new Set(b.map((n) => n.toLowerCase()));
  return x.size === y.size && [...x].every((n) => y.has(n));
}

// ---- references -----------------------------------------------------------------------------

export function issueKey(number: number): string {
  return `#${number}`;
}

/**
 * An issue number from what people write: `42`, `#42`, `owner/repo#42` or an issue URL. Null when
 * the text names no issue; `repo` is set when the text names a repository.
 */
export function parseIssueRef(text: string): { number: number; repo?: string } | null {
  const value = text.trim();
  let m = /^#?(\d+)$/.exec(value);
  if (m) return { number: Number(m[1]) };
  m = /^([\w.-]+\/[\w.-]+)#(\d+)$/.exec(value);
  if (m) return { number: Number(m[2]), repo: m[1]! };
  m = /^https?:\/\/[^/]+\/(?:api\/v3\/repos\/|repos\/)?([\w.-]+\/[\w.-]+)\/issues\/(\d+)(?:[/?#].*)?$/.exec(value);
  if (m) return { number: Number(m[2]), repo: m[1]! };
  return null;
}
