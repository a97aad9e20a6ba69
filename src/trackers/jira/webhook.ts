// Jira Cloud's webhook rules (docs/trackers.md 4.2-4.4): the X-Hub-Signature check over the raw
// bytes, dedup on X-Atlassian-Webhook-Identifier, and the mapping of payloads to InboundChange.
// Runs in the api process and never calls Jira; the engine re-reads the issue before acting, so
// normalize only says which issue changed.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { asRecord, header, ignored, str } from '../payload.ts';
import type { WebhookHandler } from '../../sync/port/tracker.ts';
import { isMarkerLabel, readCommentBody, visibleLabels } from './transform.ts';
import type { AdfDoc } from './wire.ts';

export interface JiraWebhookConfig {
  /** The secret saved on the Jira admin webhook (write-once in Jira's UI, docs/trackers.md 4.2). */
  webhook_secret?: string;
  project_key: string;
  /** Item field -> Jira field name or id: changes to these fields are synced too. */
  field_map?: Readonly<Record<string, string>>;
}

/**
 * HMAC methods accepted in `X-Hub-Signature: method=hex`. Jira sends sha256 today and its docs
 * warn it "might start using another" (docs/trackers.md 4.2), so the method is read from the
 * header; each entry is the digest's hex length.
 */
const METHODS: Record<string, number> = { sha256: 64, sha512: 128, sha1: 40 };

/**
 * Changelog fields that can change a synced field. An update touching none of them (rank, time
 * tracking, sprint...) needs no re-read of the issue.
 */
const SYNCED_CHANGELOG_FIELDS = new Set([
  'summary',
  'description',
  'status',
  'labels',
  'assignee',
  'priority',
  // Jira logs a fix version change as field "Fix Version", fieldId "fixVersions".
  'fixversions',
  'key',
  'project',
  'issuetype',
]);

/** Prefix of a changelog field that field_map names (changelogFields). */
const MAPPED = 'mapped:';

/** Comment-only events that Jira also sends as jira:issue_updated (docs/trackers.md 4.4). */
const COMMENT_EVENT_TYPES = new Set(['issue_commented', 'issue_comment_edited', 'issue_comment_deleted']);

export function verifyHubSignature(
  secret: string,
  headerValue: string | undefined,
  rawBody: Buffer,
): { ok: true } | { ok: false; reason: string } {
  if (headerValue === undefined || headerValue === '')
    return { ok: false, reason: 'missing X-Hub-Signature header (is a secret set on the Jira webhook?)' };
  const eq = headerValue.indexOf('=');
  if (eq <= 0) return { ok: false, reason: 'X-Hub-Signature is not "method=signature"' };
  const method = headerValue.slice(0, eq).trim().toLowerCase();
  const given = headerValue.slice(eq + 1).trim();
  const length = METHODS[method];
  if (length === undefined) return { ok: false, reason: `X-Hub-Signature method "${method}" is not supported (sha256, sha512, sha1)` };
  if (given.length !== length || !/^[0-9a-fA-F]+$/.test(given))
    return { ok: false, reason: `X-Hub-Signature is not a ${method} hex digest` };
  const expected = createHmac(method, Buffer.from(secret, 'utf8')).update(rawBody).digest();
  // Equal lengths are guaranteed by the length check above, as timingSafeEqual requires.
  return timingSafeEqual(expected, Buffer.from(given, 'hex'))
    ? { ok: true }
    : { ok: false, reason: 'X-Hub-Signature does not match the body' };
}

export function createJiraWebhookHandler(config: JiraWebhookConfig): WebhookHandler {
  const secret = config.webhook_secret;
  const keyPrefix = `${config.project_key.toUpperCase()}-`;
  // A changelog item names a custom field by its name (`field`) and its id (`fieldId`); field_map
  // names it by either, and the api process has no field list to translate one into the other.
  const mapped = new Set(Object.values(config.field_map ?? {}).map((ref) => ref.trim().toLowerCase()));
  return {
    verify(headers, rawBody) {
      // Jira sends admin webhooks unsigned when no secret is saved on them; accepting those would
      // let anyone who knows the URL inject changes, so a secret is required.
      if (!secret)
        return { ok: false, reason: 'no webhook_secret configured for this Jira connection (save the same secret on the Jira webhook)' };
      return verifyHubSignature(secret, header(headers, 'x-hub-signature'), rawBody);
    },

    dedupKey(headers, _payload, rawBody) {
      // "Unique within the site and unchanged across retries" (docs/trackers.md 4.3).
      const id = header(headers, 'x-atlassian-webhook-identifier');
      if (id) return `jira:${id}`;
      return `body:${createHash('sha256').update(rawBody).digest('hex')}`;
    },

    eventName(_headers, payload) {
      return str(asRecord(payload)?.webhookEvent) ?? 'unknown';
    },

    normalize(_headers, payload) {
      const p = asRecord(payload);
      if (!p) return [ignored('payload is not a JSON object')];
      const event = str(p.webhookEvent);
      const issue = asRecord(p.issue);
      const issueId = issue?.id !== undefined ? String(issue.id) : undefined;
      const issueKey = str(issue?.key);
      const actor = userName(asRecord(p.user));
      if (!event) return [ignored('payload has no webhookEvent')];
      if (issueKey && !issueKey.toUpperCase().startsWith(keyPrefix)) {
        // Admin webhooks may cover the whole site (their JQL filter is optional).
        return [ignored(`${issueKey} is not in project ${config.project_key}`)];
      }
      switch (event) {
        case 'jira:issue_created':
        case 'jira:issue_updated': {
          if (!issueId) return [ignored(`${event} without issue.id`)];
          const items = changelogFields(p.changelog, mapped);
          const typeName = str(p.issue_event_type_name);
          if (event === 'jira:issue_updated' && items.length === 0 && typeName && COMMENT_EVENT_TYPES.has(typeName)) {
            return [ignored(`${typeName} on ${issueKey ?? issueId}: comments are read from comment_created`)];
          }
          if (
            event === 'jira:issue_updated' &&
            items.length > 0 &&
            !items.some((f) => SYNCED_CHANGELOG_FIELDS.has(f) || f.startsWith(MAPPED))
          ) {
            return [ignored(`${issueKey ?? issueId}: only unsynced fields changed (${[...new Set(items)].join(', ')})`)];
          }
          const fields = asRecord(issue?.fields);
          const allLabels = Array.isArray(fields?.labels) ? fields!.labels.filter((l): l is string => typeof l === 'string') : undefined;
          if (event === 'jira:issue_created' && allLabels?.some(isMarkerLabel)) {
            // Trackline's own create: the create records the mapping itself (and a lost answer is
            // recovered by the marker). Acting on it could race that and import the issue as a
            // second item when it carries an import label.
            return [ignored(`${issueKey ?? issueId} was created by Trackline (it carries the marker label)`)];
          }
          const labels = allLabels ? visibleLabels(allLabels) : undefined;
          return [
            {
              type: 'issue.changed',
              remoteId: issueId,
              ...(issueKey ? { remoteKey: issueKey } : {}),
              ...(labels ? { labels } : {}),
              ...(actor ? { actor } : {}),
              action: event === 'jira:issue_created' ? 'created' : 'updated',
            },
          ];
        }
        case 'jira:issue_deleted':
          if (!issueId) return [ignored('jira:issue_deleted without issue.id')];
          return [{ type: 'issue.deleted', remoteId: issueId, ...(issueKey ? { remoteKey: issueKey } : {}), ...(actor ? { actor } : {}) }];
        case 'comment_created': {
          const comment = asRecord(p.comment);
          const commentId = comment?.id !== undefined ? String(comment.id) : undefined;
          if (!issueId || !commentId) return [ignored('comment_created without issue.id or comment.id')];
          const read = readCommentBody(asRecord(comment?.body) as AdfDoc | undefined);
          const author = userName(asRecord(comment?.author)) ?? actor;
          return [
            {
              type: 'comment.created',
              remoteId: issueId,
              ...(issueKey ? { remoteKey: issueKey } : {}),
              commentId,
              body: read.body,
              ...(author ? { actor: author } : {}),
              fromTrackline: read.commentId !== undefined,
            },
          ];
        }
        default:
          return [ignored(`Jira "${event}" events are not synced`)];
      }
    },
  };
}

/** The changed fields' ids, lowercased; a field field_map names (by name or id) reads as `mapped:<id>`. */
function changelogFields(changelog: unknown, mapped: ReadonlySet<string>): string[] {
  const items = asRecord(changelog)?.items;
  if (!Array.isArray(items)) return [];
  return items.map((i) => {
    const item = asRecord(i);
    const id = String(item?.fieldId ?? item?.field ?? '').toLowerCase();
    const name = String(item?.field ?? '').toLowerCase();
    return mapped.has(id) || mapped.has(name) ? `${MAPPED}${id}` : id;
  });
}

function userName(user: Record<string, unknown> | undefined): string | undefined {
  return str(user?.displayName) || str(user?.accountId) || undefined;
}
