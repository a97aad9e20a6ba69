// Plane's webhook rules (trackers.md §1): signature check over the raw bytes, the dedup key, and
// the mapping of both payload versions to InboundChange. Runs in the api process and never calls
// Plane; the engine re-reads the issue before acting, so normalize only says which issue changed.

import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { asRecord, header, ignored, str } from '../payload.ts';
import type { InboundChange, WebhookHandler } from '../../sync/port/tracker.ts';
import { htmlToMarkdown } from './transform.ts';
import { EXTERNAL_SOURCE } from './wire.ts';

export interface PlaneWebhookConfig {
  /** The webhook's secret key (`plane_wh_…`), from Plane's CSV download. */
  webhook_secret?: string;
}

/** Trackline's comment marker on Plane (adapter.addComment): external_id `trackline-comment-<n>`. */
const TRACKLINE_COMMENT_ID = /^trackline-comment-\d+$/;
/** HMAC-SHA256 as bare hex: 32 bytes, 64 characters, no `sha256=` prefix (§1.1). */
const SIGNATURE_RE = /^[0-9a-fA-F]{64}$/;

export function createPlaneWebhookHandler(config: PlaneWebhookConfig): WebhookHandler {
  const secret = config.webhook_secret;
  return {
    verify(headers, rawBody) {
      if (!secret) return { ok: false, reason: 'no webhook_secret configured for this Plane connection' };
      const given = header(headers, 'x-plane-signature');
      if (given === undefined) return { ok: false, reason: 'missing X-Plane-Signature header' };
      if (!SIGNATURE_RE.test(given)) return { ok: false, reason: 'X-Plane-Signature is not a 64-character hex digest' };
      // Plane signs json.dumps(payload), whose bytes are the body it sends (§1.1). HMAC the bytes as
      // received: re-serialising (JSON.stringify drops the spaces after ":" and ",") never matches.
      const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(rawBody).digest();
      const actual = Buffer.from(given, 'hex');
      // Both are 32 bytes here (the regex checked the length), as timingSafeEqual requires.
      return timingSafeEqual(expected, actual) ? { ok: true } : { ok: false, reason: 'X-Plane-Signature does not match the body' };
    },

    dedupKey(_headers, payload, rawBody) {
      // v2 carries event_id, "stable across retries" (§1.4). v1 has no event id and a new
      // X-Plane-Delivery per retry (§1.1), but a retry re-sends the same Celery task arguments, so
      // the body bytes are identical: their hash identifies the event.
      const p = asRecord(payload);
      if (p?.version === 'v2' && typeof p.event_id === 'string' && p.event_id !== '') return p.event_id;
      // One-shot hash(): no Hash object per delivery (createHash was 4% of the webhook route's CPU).
      return `body:${hash('sha256', rawBody, 'hex')}`;
    },

    eventName(headers, payload) {
      const p = asRecord(payload);
      if (p?.version === 'v2') return v2EventName(p.event) ?? str(p.event) ?? header(headers, 'x-plane-event') ?? 'unknown';
      const event = str(p?.event) ?? header(headers, 'x-plane-event') ?? 'unknown';
      const action = v1Action(p?.action);
      return action ? `${event}.${action}` : event;
    },

    normalize(_headers, payload) {
      const p = asRecord(payload);
      if (!p) return [ignored('payload is not a JSON object')];
      return p.version === 'v2' ? normalizeV2(p) : normalizeV1(p);
    },
  };
}

// ---------------------------------------------------------------- v1 (Plane CE, §1.3)

function normalizeV1(p: Record<string, unknown>): InboundChange[] {
  const event = str(p.event);
  const action = v1Action(p.action);
  const data = asRecord(p.data);
  const activity = asRecord(p.activity);
  const actor = actorName(asRecord(activity?.actor));
  const id = str(data?.id);
  if (event === 'issue') {
    if (!id) return [ignored('issue webhook without data.id')];
    if (action === 'created' || action === 'updated') {
      return [{ type: 'issue.changed', remoteId: id, labels: labelNames(data?.labels), actor, action }];
    }
    // CE sends no delete webhook today (§1.3), but older releases did, with data {"id": …}.
    if (action === 'deleted') return [{ type: 'issue.deleted', remoteId: id, actor }];
    return [ignored(`issue action "${String(p.action)}" is not handled`)];
  }
  if (event === 'issue_comment') {
    if (action !== 'created') return [ignored(`issue_comment ${action ?? String(p.action)}: only new comments are synced`)];
    const issueId = str(data?.issue);
    if (!id || !issueId) return [ignored('issue_comment webhook without data.id or data.issue')];
    return [
      {
        type: 'comment.created',
        remoteId: issueId,
        commentId: id,
        body: htmlToMarkdown(str(data?.comment_html)),
        actor,
        fromTrackline: isTracklineComment(data!),
      },
    ];
  }
  if (event === 'cycle_issue' || event === 'module_issue') {
    // Membership rows (CycleIssue / ModuleIssue: `issue` is the work item). Plane's webhook code
    // maps these events (§1.3) but does not say when it sends them; polling reads membership too.
    const issueId = str(data?.issue);
    if (!issueId) return [ignored(`${event} webhook without data.issue`)];
    return [{ type: 'issue.changed', remoteId: issueId, actor, action: `${event}.${action ?? 'changed'}` }];
  }
  return [ignored(`Plane "${event ?? 'unknown'}" events are not synced`)];
}

/**
 * Today's code sends created/updated/deleted; the old docs show create/update/delete, the
 * HTTP-method mapping in webhook_task (§1.3). Both are accepted.
 */
function v1Action(action: unknown): 'created' | 'updated' | 'deleted' | undefined {
  switch (action) {
    case 'created':
    case 'create':
      return 'created';
    case 'updated':
    case 'update':
      return 'updated';
    case 'deleted':
    case 'delete':
      return 'deleted';
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------- v2 (Plane docs, §1.4)

function normalizeV2(p: Record<string, unknown>): InboundChange[] {
  const event = v2EventName(p.event);
  const data = asRecord(p.data);
  const entityId = str(p.entity_id);
  switch (event) {
    case 'workitem.created':
    case 'workitem.updated': {
      const id = str(data?.id) ?? entityId;
      if (!id) return [ignored(`${event} without data.id or entity_id`)];
      return [{ type: 'issue.changed', remoteId: id, labels: labelNames(data?.labels), action: event.slice('workitem.'.length) }];
    }
    case 'workitem.deleted': {
      // data is {} for deletes; the record before deletion is in previous_attributes.
      const id = entityId ?? str(asRecord(p.previous_attributes)?.id);
      return id ? [{ type: 'issue.deleted', remoteId: id }] : [ignored('workitem.deleted without entity_id')];
    }
    case 'workitem.comment.created': {
      // The docs' example: data is the work item ({id, name}) with the comment nested under it.
      const comment = asRecord(data?.comment);
      const issueId = str(comment?.issue_id) ?? str(data?.id) ?? entityId;
      const commentId = str(comment?.id);
      if (!comment || !issueId || !commentId) return [ignored('workitem.comment.created without data.comment.id')];
      const html = str(comment.comment_html);
      return [
        {
          type: 'comment.created',
          remoteId: issueId,
          commentId,
          // The documented v2 comment carries only comment_stripped (plain text).
          body: html !== undefined ? htmlToMarkdown(html) : (str(comment.comment_stripped) ?? ''),
          fromTrackline: isTracklineComment(comment),
        },
      ];
    }
    default:
      return [ignored(`Plane "${event ?? String(p.event)}" events are not synced`)];
  }
}

/**
 * The v2 event name. The docs' own workitem.updated example says
 * "WebhookScope.ScopeChoices.WORK_ITEM_UPDATED" (§1.4 caveats), so that spelling is mapped too,
 * for the events Trackline acts on.
 */
function v2EventName(event: unknown): string | undefined {
  const name = str(event);
  const m = name && /^WebhookScope\.ScopeChoices\.WORK_ITEM(_COMMENT)?_(CREATED|UPDATED|DELETED)$/.exec(name);
  if (m) return `workitem.${m[1] ? 'comment.' : ''}${m[2]!.toLowerCase()}`;
  return name;
}

// ---------------------------------------------------------------- shared

function isTracklineComment(comment: Record<string, unknown>): boolean {
  if (comment.external_source === EXTERNAL_SOURCE) return true;
  const externalId = str(comment.external_id);
  return externalId !== undefined && TRACKLINE_COMMENT_ID.test(externalId) && comment.external_source === undefined;
}

/** Label names from expanded labels ({id, name, …}); uuid-only lists give none (engine re-reads). */
function labelNames(labels: unknown): string[] | undefined {
  if (!Array.isArray(labels)) return undefined;
  const names = labels.map((l) => str(asRecord(l)?.name));
  return names.every((n): n is string => n !== undefined) ? names : undefined;
}

/** The same name the adapter's catalog uses for a member: display name, else email. */
function actorName(actor: Record<string, unknown> | undefined): string | undefined {
  return str(actor?.display_name) || str(actor?.email) || undefined;
}
