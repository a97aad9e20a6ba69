// The sandbox Plane's outbound webhooks: turns the store's change events into the HTTP deliveries
// Plane sends (trackers.md §1), so Trackline's receiver is tested against the real wire format:
// Python json.dumps bodies, bare-hex HMAC signatures, one delivery per changed field, no delivery
// for deletes, and retries only on network errors with a fresh X-Plane-Delivery each time.
//
// v1 is what Plane CE sends (apps/api/plane/bgtasks/webhook_task.py, §1.1–1.3). v2 follows Plane's
// developer docs (§1.4), which describe a build that is not in the CE source; it exists here so the
// receiver's v2 path can be exercised too.

import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { DeliveryQueue } from '../delivery-queue.ts';
import { commentToJson, issueExpandToJson, memberToJson } from './serialize.ts';
import { type PlaneChangeEvent, type PlaneComment, type PlaneIssue } from './model.ts';
import { type PlaneStore } from './store.ts';
import { pyFloat, pythonJsonDumps } from './python-json.ts';

export type PlaneWebhookVersion = 'v1' | 'v2';
/** Plane's per-webhook event flags that the sandbox store can produce (db/models/webhook.py). */
export type PlaneWebhookEntity = 'issue' | 'issue_comment';

export interface PlaneWebhookTargetInput {
  url: string;
  /** Plane generates `plane_wh_<hex>`; any string works. Empty: deliveries go out unsigned. */
  secret: string;
  /** @defaultValue 'v1' (Plane CE) */
  version?: PlaneWebhookVersion;
  /** Workspace slug, as Plane webhooks belong to one workspace. @defaultValue every workspace */
  workspace?: string | null;
  /** @defaultValue ['issue', 'issue_comment'] */
  events?: PlaneWebhookEntity[];
}

export interface PlaneWebhookTarget {
  /** The webhook's id, sent as `webhook_id`. */
  id: string;
  url: string;
  secret: string;
  version: PlaneWebhookVersion;
  workspace: string | null;
  events: PlaneWebhookEntity[];
  /**
   * Plane sets is_active=false once a delivery has failed on every retry (§1.2); an inactive
   * webhook gets no new deliveries until reactivated.
   */
  isActive: boolean;
}

/** One delivery attempt, as sent. */
export interface PlaneWebhookDelivery {
  /** ISO time the attempt finished. */
  at: string;
  webhookId: string;
  url: string;
  /** The X-Plane-Event value: `issue`, `issue_comment` (v1) or `workitem.updated`… (v2). */
  event: string;
  /** 0 for the first try, then Celery's retry count (what Plane logs as retry_count). */
  attempt: number;
  /** Headers exactly as sent. */
  headers: Record<string, string>;
  /** The body exactly as sent (and signed). */
  body: string;
  /** HTTP status of the answer; 0 when there was none (refused, reset, timed out). */
  status: number;
  /** The network error, when status is 0. */
  error?: string;
}

export interface PlaneWebhookSenderOptions {
  /**
   * Wait before each retry. Plane waits a uniform 0–600 s (Celery retry_backoff=600 with full
   * jitter, §1.2); tests cannot, so the sandbox waits a fixed, short time.
   * @defaultValue 100
   */
  retryDelayMs?: number;
  /** Retries after the first attempt (Celery max_retries, §1.2). @defaultValue 5 */
  maxRetries?: number;
  /** Per-attempt timeout; requests.post(..., timeout=30) in Plane (§1.1). @defaultValue 30000 */
  timeoutMs?: number;
  /** Deactivate a webhook whose delivery failed on every retry, as Plane does. @defaultValue true */
  deactivateOnFailure?: boolean;
  /** Most attempts kept in the log (oldest dropped first). @defaultValue 10000 */
  logLimit?: number;
}

const DEFAULTS = {
  // Short enough that a test covering a retry or two stays well under a second.
  retryDelayMs: 100,
  // Plane's own value: 1 try + 5 retries before the webhook is deactivated.
  maxRetries: 5,
  // Plane's own value; tests with a hanging receiver should pass something small.
  timeoutMs: 30_000,
  deactivateOnFailure: true,
  // Plenty for a benchmark run; bounded so a long-running demo sandbox does not grow forever.
  logLimit: 10_000,
} as const;

/** A delivery waiting to go out: one Plane webhook_send_task. */
interface Job {
  target: PlaneWebhookTarget;
  event: string;
  /** The body for an attempt. v1 bodies are fixed; v2 bodies carry the attempt's delivery_id. */
  render(deliveryId: string): string;
}

export class PlaneWebhookSender {
  readonly #store: PlaneStore;
  readonly #options: Required<PlaneWebhookSenderOptions>;
  readonly #targets = new Map<string, PlaneWebhookTarget>();
  readonly #log: PlaneWebhookDelivery[] = [];
  /** Keyed by (webhook, issue): deliveries about one issue go out in order. */
  readonly #queue = new DeliveryQueue('plane');
  readonly #unsubscribe: () => void;
  #enabled = true;

  constructor(store: PlaneStore, options: PlaneWebhookSenderOptions = {}) {
    this.#store = store;
    this.#options = { ...DEFAULTS, ...stripUndefined(options) };
    this.#unsubscribe = store.onChange((event) => this.#onChange(event));
  }

  // ---------------------------------------------------------------- configuration

  register(input: PlaneWebhookTargetInput): PlaneWebhookTarget {
    const url = new URL(input.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`webhook url must be http(s): ${input.url}`);
    const target: PlaneWebhookTarget = {
      id: randomUUID(),
      url: input.url,
      secret: input.secret,
      version: input.version ?? 'v1',
      workspace: input.workspace ?? null,
      events: input.events ?? ['issue', 'issue_comment'],
      isActive: true,
    };
    this.#targets.set(target.id, target);
    return target;
  }

  unregister(id: string): boolean {
    return this.#targets.delete(id);
  }

  clearTargets(): void {
    this.#targets.clear();
  }

  targets(): PlaneWebhookTarget[] {
    return [...this.#targets.values()];
  }

  /** Turns a deactivated webhook back on (Plane's "Enable webhook"). */
  setActive(id: string, active: boolean): void {
    const target = this.#targets.get(id);
    if (!target) throw new Error(`no webhook ${id}`);
    target.isActive = active;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * Webhooks off: changes made while paused are dropped, not queued, as for a disabled Plane
   * webhook. Deliveries already queued still go out (Celery tasks already enqueued run anyway).
   */
  pause(): void {
    this.#enabled = false;
  }

  resume(): void {
    this.#enabled = true;
  }

  // ---------------------------------------------------------------- observation

  /** Attempts made so far, oldest first; filter by webhook id or X-Plane-Event. */
  deliveries(filter: { webhookId?: string; event?: string } = {}): PlaneWebhookDelivery[] {
    return this.#log.filter((d) => (!filter.webhookId || d.webhookId === filter.webhookId) && (!filter.event || d.event === filter.event));
  }

  clearLog(): void {
    this.#log.length = 0;
  }

  /** Keeps webhooks back (as a slow sender would) until release(). */
  hold(): void {
    this.#queue.hold();
  }

  /** Sends the webhooks hold() kept back. */
  release(): void {
    this.#queue.release();
  }

  /** Resolves once every queued delivery has been sent or has given up (retries included). */
  drain(): Promise<void> {
    return this.#queue.drain();
  }

  /** Stops listening and abandons queued deliveries and retries; drain() then resolves. */
  dispose(): void {
    if (this.#queue.disposed) return;
    this.#unsubscribe();
    this.#queue.dispose();
  }

  // ---------------------------------------------------------------- events → jobs

  #onChange(event: PlaneChangeEvent): void {
    if (!this.#enabled || this.#queue.disposed) return;
    const issueId = event.entity === 'issue' ? event.id : event.issueId;
    if (!issueId) return;
    for (const target of this.#targets.values()) {
      // Plane's webhook_activity picks active webhooks of the workspace that subscribe to the
      // event kind; is_active is checked here only, so deliveries already queued still run.
      if (!target.isActive || !target.events.includes(event.entity)) continue;
      if (target.workspace !== null && target.workspace !== event.workspaceSlug) continue;
      const jobs = target.version === 'v1' ? this.#v1Jobs(target, event) : this.#v2Jobs(target, event);
      for (const job of jobs) this.#enqueue(`${target.id}:${issueId}`, job);
    }
  }

  /**
   * v1 (§1.3): created → one delivery; updated → one per changed field, each with the full current
   * object; deleted → none, because CE sends no webhook for issue or comment deletes. The data is
   * rendered now, when the change happens, so every delivery of one PATCH shows the object after it.
   */
  #v1Jobs(target: PlaneWebhookTarget, event: PlaneChangeEvent): Job[] {
    if (event.action === 'deleted') return [];
    const data = this.#v1Data(event);
    if (!data) return [];
    const actor = this.#store.members.get(event.actor);
    const activity = (field: string | null, oldValue: unknown, newValue: unknown) => ({
      field,
      new_value: newValue ?? null,
      old_value: oldValue ?? null,
      actor: actor ? memberToJson(actor) : null,
      old_identifier: null,
      new_identifier: null,
    });
    const job = (activityValue: ReturnType<typeof activity>): Job => {
      // Key order of webhook_send_task's payload dict; json.dumps keeps it.
      const body = pythonJsonDumps({
        event: event.entity,
        action: event.action,
        webhook_id: target.id,
        workspace_id: event.workspaceId,
        data,
        activity: activityValue,
      });
      // Retries re-run the same Celery task with the same arguments: same body, new delivery id.
      return { target, event: event.entity, render: () => body };
    };
    if (event.action === 'created') return [job(activity(null, null, null))];
    return event.changes.map((c) => job(activity(c.field, c.oldValue, c.newValue)));
  }

  #v1Data(event: PlaneChangeEvent): Record<string, unknown> | null {
    if (event.entity === 'issue') {
      const issue = this.#store.issues.get(event.id);
      if (!issue) return null;
      const data = issueExpandToJson(this.#store, issue);
      // Issue.sort_order is a FloatField: Python serialises 65535 as 65535.0.
      if (typeof data.sort_order === 'number') data.sort_order = pyFloat(data.sort_order);
      return data;
    }
    const comment = this.#store.comments.get(event.id);
    return comment ? commentToJson(comment) : null;
  }

  /**
   * v2 (§1.4, developer-docs "Payload structure"): one delivery per event (not per field), with
   * the changed fields' old values in previous_attributes; deletes are sent, with data {} and the
   * record before deletion in previous_attributes. The data shapes follow the docs' examples.
   */
  #v2Jobs(target: PlaneWebhookTarget, event: PlaneChangeEvent): Job[] {
    if (event.action === 'updated' && event.changes.length === 0) return [];
    const issueId = event.entity === 'issue' ? event.id : event.issueId!;
    const issue = this.#store.issues.get(issueId);
    if (!issue) return [];
    const comment = event.entity === 'issue_comment' ? this.#store.comments.get(event.id) : undefined;
    if (event.entity === 'issue_comment' && !comment) return [];

    const name = event.entity === 'issue' ? `workitem.${event.action}` : `workitem.comment.${event.action}`;
    let data: Record<string, unknown>;
    let previous: Record<string, unknown> = {};
    if (event.action === 'deleted') {
      data = {};
      previous = comment ? { ...commentToJson(comment), deleted_at: null } : { ...issueV2Json(issue), deleted_at: null };
    } else {
      data = comment ? commentV2Json(issue, comment) : issueV2Json(issue);
      if (event.action === 'updated') {
        previous = Object.fromEntries(
          event.changes.map((c) => [comment ? c.field : (V2_FIELD_NAMES[c.field] ?? c.field), c.oldValue ?? null]),
        );
      }
    }
    const eventId = randomUUID();
    return [
      {
        target,
        event: name,
        // The docs' comment example names the work item as the entity (entity_type "issue").
        render: (deliveryId) =>
          pythonJsonDumps({
            version: 'v2',
            delivery_id: deliveryId,
            event_id: eventId,
            entity_id: issue.id,
            entity_type: 'issue',
            event: name,
            webhook_id: target.id,
            workspace_id: event.workspaceId,
            data,
            previous_attributes: previous,
          }),
      },
    ];
  }

  // ---------------------------------------------------------------- delivery

  #enqueue(key: string, job: Job): void {
    this.#queue.enqueue(key, () => this.#deliver(job));
  }

  /**
   * webhook_send_task with Celery's autoretry (§1.2): only a network error (requests'
   * RequestException: refused, reset, timeout) is retried; any HTTP answer, 4xx or 5xx included,
   * is logged and final. Each attempt gets a new X-Plane-Delivery. After the last retry fails the
   * webhook is deactivated.
   */
  async #deliver(job: Job): Promise<void> {
    const { target } = job;
    for (let attempt = 0; !this.#queue.disposed; attempt++) {
      const deliveryId = randomUUID();
      const body = job.render(deliveryId);
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        'User-Agent': 'Autopilot',
        'X-Plane-Delivery': deliveryId,
        'X-Plane-Event': job.event,
      };
      // `if webhook.secret_key:` in Plane: no secret, no signature header.
      if (target.secret) headers['X-Plane-Signature'] = sign(target.secret, body);
      // What requests adds to every request; Content-Length because requests sends a sized body.
      headers['Accept-Encoding'] = 'gzip, deflate';
      headers.Accept = '*/*';
      headers['Content-Length'] = String(Buffer.byteLength(body));

      try {
        const status = await this.#queue.withAbort((signal) => post(target.url, headers, body, this.#options.timeoutMs, signal));
        this.#record({ webhookId: target.id, url: target.url, event: job.event, attempt, headers, body, status });
        return;
      } catch (error) {
        if (this.#queue.disposed) return;
        this.#record({
          webhookId: target.id,
          url: target.url,
          event: job.event,
          attempt,
          headers,
          body,
          status: 0,
          error: (error as Error).message,
        });
        if (attempt >= this.#options.maxRetries) {
          if (this.#options.deactivateOnFailure) target.isActive = false;
          return;
        }
      }
      await this.#queue.sleep(this.#options.retryDelayMs);
    }
  }

  #record(entry: Omit<PlaneWebhookDelivery, 'at'>): void {
    this.#log.push({ at: new Date().toISOString(), ...entry });
    if (this.#log.length > this.#options.logLimit) this.#log.splice(0, this.#log.length - this.#options.logLimit);
  }
}

/** X-Plane-Signature: bare lowercase hex HMAC-SHA256 of the body, keyed with the secret as UTF-8. */
export function signPlaneWebhook(secret: string, body: string | Buffer): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex');
}
const sign = signPlaneWebhook;

/**
 * One POST on a fresh connection, as requests.post opens a new session per call. Resolves with
 * the status once the answer has been read; rejects on anything requests would raise as a
 * RequestException (connection refused or reset, timeout, answer cut short).
 */
function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? https : http;
    const req = transport.request(target, { method: 'POST', headers, agent: false, signal, timeout: timeoutMs }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new Error('connection closed before the response was complete'));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Model field → the v2 payload's name for it (the docs' data uses *_id for relations). */
const V2_FIELD_NAMES: Record<string, string> = {
  state: 'state_id',
  labels: 'label_ids',
  assignees: 'assignee_ids',
  parent: 'parent_id',
  estimate_point: 'estimate_point_id',
  type: 'type_id',
  project: 'project_id',
  workspace: 'workspace_id',
};

/** Plane's v2 examples print timestamps as Python isoformat with "+00:00", not DRF's "Z". */
function v2Time(ts: string | null): string | null {
  return ts === null ? null : ts.replace(/Z$/, '+00:00');
}

/**
 * The work item as the v2 docs' workitem.updated example shows it (key order included). The
 * example prints nulls as the string "None", which looks like a bug in that build; the sandbox
 * sends real nulls.
 */
function issueV2Json(issue: PlaneIssue): Record<string, unknown> {
  return {
    id: issue.id,
    name: issue.name,
    point: issue.point,
    type_id: issue.type,
    is_draft: issue.is_draft,
    priority: issue.priority,
    state_id: issue.state,
    label_ids: [...issue.labels],
    parent_id: issue.parent,
    created_at: v2Time(issue.created_at),
    deleted_at: v2Time(issue.deleted_at),
    project_id: issue.project,
    sort_order: issue.sort_order,
    start_date: issue.start_date,
    updated_at: v2Time(issue.updated_at),
    archived_at: v2Time(issue.archived_at),
    external_id: issue.external_id,
    sequence_id: issue.sequence_id,
    target_date: issue.target_date,
    assignee_ids: [...issue.assignees],
    completed_at: v2Time(issue.completed_at),
    workspace_id: issue.workspace,
    created_by_id: issue.created_by,
    updated_by_id: issue.updated_by,
    external_source: issue.external_source,
    description_json: {},
    last_activity_at: v2Time(issue.updated_at),
  };
}

/**
 * The docs' workitem.comment.created example: the work item's id and name with the comment
 * nested. It carries comment_stripped but neither comment_html nor external_source.
 */
function commentV2Json(issue: PlaneIssue, comment: PlaneComment): Record<string, unknown> {
  return {
    id: issue.id,
    name: issue.name,
    comment: {
      id: comment.id,
      access: comment.access,
      actor_id: comment.actor,
      issue_id: comment.issue,
      edited_at: comment.updated_at === comment.created_at ? null : v2Time(comment.updated_at),
      comment_stripped: comment.comment_stripped,
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
