import type { HttpClient, RequestOptions } from '../http-client.ts';
import { TrackerError } from '../../sync/port/errors.ts';
import {
  ISSUE_FIELDS,
  type JiraComment,
  type JiraCreateMetaField,
  type JiraCreateMetaPage,
  type JiraField,
  type JiraErrorCollection,
  type JiraIssue,
  type JiraIssueTypeStatuses,
  type JiraPriority,
  type JiraProject,
  type JiraSearchPage,
  type JiraTransition,
  type JiraUserRef,
  type JiraVersion,
  type JiraWorkflowPreview,
} from './wire.ts';

/**
 * Jira Cloud REST v3, one method per call Trackline makes (docs/trackers.md 4.5). Built on our
 * fetch-based HttpClient rather than jira.js: jira.js 6.x wraps axios and hands back only the
 * response data, and the pacer needs every response's status, Retry-After, X-RateLimit-Reset and
 * RateLimit-Reason headers (docs/trackers.md 6).
 *
 * Every write to an existing issue first passes the per-issue write gate: Jira limits writes to
 * one issue to 20 per 2 s and 100 per 30 s whoever makes them (docs/trackers.md 4.6).
 */
export interface IssueWriteGate {
  /** Waits until one more write to the issue fits; resolves with the write's id (unused here). */
  acquire(subject: string): Promise<unknown>;
}

export const openWriteGate: IssueWriteGate = { acquire: async () => undefined };

const API = '/rest/api/3';
const enc = encodeURIComponent;

export class JiraApi {
  constructor(
    private readonly http: HttpClient,
    private readonly writeGate: IssueWriteGate = openWriteGate,
  ) {}

  /**
   * Jira answers 409 to "a conflicting update" (editIssue, doTransition): another write to the
   * same issue won the race, and the same request succeeds on a retry. kindForStatus calls 409 a
   * client error (permanent), so it is re-raised here as retryable.
   */
  private async call<T>(method: string, path: string, opts: RequestOptions = {}) {
    try {
      return await this.http.request<T>(method, path, opts);
    } catch (error) {
      if (error instanceof TrackerError && error.status === 409) {
        throw new TrackerError('server', `${error.message} (a concurrent edit of the issue; retried)`, error.details);
      }
      throw error;
    }
  }

  private async write<T>(issueId: string, method: string, path: string, opts: RequestOptions) {
    await this.writeGate.acquire(issueId);
    return this.call<T>(method, path, opts);
  }

  async myself(deliveryId?: string): Promise<JiraUserRef> {
    return (await this.call<JiraUserRef>('GET', `${API}/myself`, { deliveryId })).data;
  }

  async project(key: string, deliveryId?: string): Promise<JiraProject> {
    return (await this.call<JiraProject>('GET', `${API}/project/${enc(key)}`, { deliveryId })).data;
  }

  async projectStatuses(key: string, deliveryId?: string): Promise<JiraIssueTypeStatuses[]> {
    return (await this.call<JiraIssueTypeStatuses[]>('GET', `${API}/project/${enc(key)}/statuses`, { deliveryId })).data;
  }

  /** Every version of the project (this route is not paginated). */
  async projectVersions(key: string, deliveryId?: string): Promise<JiraVersion[]> {
    return (await this.call<JiraVersion[]>('GET', `${API}/project/${enc(key)}/versions`, { deliveryId })).data;
  }

  async createVersion(projectId: string, name: string, deliveryId?: string): Promise<JiraVersion> {
    return (await this.call<JiraVersion>('POST', `${API}/version`, { body: { name, projectId: Number(projectId) }, deliveryId })).data;
  }

  /** The priorities usable in the project (the unfiltered GET /priority is deprecated). */
  async priorities(projectId: string, deliveryId?: string): Promise<JiraPriority[]> {
    const out: JiraPriority[] = [];
    for (let startAt = 0, page = 0; page < 50; page++) {
      const { data } = await this.call<{ values?: JiraPriority[]; isLast?: boolean; total?: number }>('GET', `${API}/priority/search`, {
        query: { projectId, startAt, maxResults: 100 },
        deliveryId,
      });
      const values = data.values ?? [];
      out.push(...values);
      startAt += values.length;
      if (data.isLast !== false || values.length === 0) break;
    }
    return out;
  }

  /**
   * The workflow of one issue type in the project, with its transitions: what a path from one
   * status to another is planned on. Needs "View (read-only) workflow" or "Administer projects";
   * without it Jira answers 401 (the spec's wording) or 403.
   */
  async workflowPreview(projectId: string, issueTypeId: string, deliveryId?: string): Promise<JiraWorkflowPreview> {
    return (
      await this.call<JiraWorkflowPreview>('POST', `${API}/workflows/preview`, {
        body: { projectId, issueTypeIds: [issueTypeId] },
        deliveryId,
      })
    ).data;
  }

  /** Every system and custom field of the site the user may see (this route is not paginated). */
  async fields(deliveryId?: string): Promise<JiraField[]> {
    return (await this.call<JiraField[]>('GET', `${API}/field`, { deliveryId })).data;
  }

  /**
   * What a create of this issue type in the project may set, with the allowed values of select
   * fields: the non-deprecated createmeta route (the project-wide /issue/createmeta is
   * deprecated). Paged by startAt, at most 200 a page.
   */
  async createMeta(projectKey: string, issueTypeId: string, deliveryId?: string): Promise<JiraCreateMetaField[]> {
    const out: JiraCreateMetaField[] = [];
    for (let startAt = 0, page = 0; page < 50; page++) {
      const { data } = await this.call<JiraCreateMetaPage>(
        'GET',
        `${API}/issue/createmeta/${enc(projectKey)}/issuetypes/${enc(issueTypeId)}`,
        { query: { startAt, maxResults: 200 }, deliveryId },
      );
      const values = data.fields ?? data.results ?? [];
      out.push(...values);
      startAt += values.length;
      if (values.length === 0 || (data.total !== undefined && startAt >= data.total)) break;
    }
    return out;
  }

  async createIssue(body: Record<string, unknown>, deliveryId?: string): Promise<{ id: string; key: string }> {
    return (await this.call<{ id: string; key: string }>('POST', `${API}/issue`, { body, deliveryId })).data;
  }

  /** The issue with the fields Trackline reads, plus `extraFields` (mapped custom fields). */
  async getIssue(idOrKey: string, deliveryId?: string, extraFields: readonly string[] = []): Promise<JiraIssue> {
    const fields = [...ISSUE_FIELDS, ...extraFields].join(',');
    return (await this.call<JiraIssue>('GET', `${API}/issue/${enc(idOrKey)}`, { query: { fields }, deliveryId })).data;
  }

  /** Edits fields; `returnIssue` answers the issue as stored, saving a read. */
  async editIssue(issueId: string, body: Record<string, unknown>, deliveryId?: string): Promise<JiraIssue | null> {
    const res = await this.write<JiraIssue>(issueId, 'PUT', `${API}/issue/${enc(issueId)}`, {
      query: { returnIssue: true },
      body,
      deliveryId,
    });
    return res.status === 200 && res.data && typeof res.data === 'object' ? res.data : null;
  }

  async transitions(issueId: string, deliveryId?: string): Promise<JiraTransition[]> {
    const { data } = await this.call<{ transitions?: JiraTransition[] }>('GET', `${API}/issue/${enc(issueId)}/transitions`, { deliveryId });
    return data.transitions ?? [];
  }

  async doTransition(issueId: string, transitionId: string, deliveryId?: string): Promise<void> {
    await this.write(issueId, 'POST', `${API}/issue/${enc(issueId)}/transitions`, {
      body: { transition: { id: transitionId } },
      deliveryId,
    });
  }

  /** The newest comments first: where a comment Trackline may already have posted would be. */
  async recentComments(issueId: string, deliveryId?: string): Promise<JiraComment[]> {
    const { data } = await this.call<{ comments?: JiraComment[] }>('GET', `${API}/issue/${enc(issueId)}/comment`, {
      query: { orderBy: '-created', maxResults: 100 },
      deliveryId,
    });
    return data.comments ?? [];
  }

  /**
   * Creates a remote link, or updates the one with the same `globalId` (Jira's own rule for this
   * route, so writing it again is harmless). Answers the link's id.
   */
  async upsertRemoteLink(issueId: string, body: Record<string, unknown>, deliveryId?: string): Promise<{ id: number; self?: string }> {
    return (
      await this.write<{ id: number; self?: string }>(issueId, 'POST', `${API}/issue/${enc(issueId)}/remotelink`, { body, deliveryId })
    ).data;
  }

  /** DELETE …/remotelink?globalId= (Jira answers 204); one already gone (404) is no error. */
  async deleteRemoteLink(issueId: string, globalId: string, deliveryId?: string): Promise<void> {
    await this.write(issueId, 'DELETE', `${API}/issue/${enc(issueId)}/remotelink`, { query: { globalId }, accept: [404], deliveryId });
  }

  async addComment(issueId: string, body: Record<string, unknown>, deliveryId?: string): Promise<JiraComment> {
    return (await this.write<JiraComment>(issueId, 'POST', `${API}/issue/${enc(issueId)}/comment`, { body, deliveryId })).data;
  }

  /**
   * One page of a JQL search. POST keeps long JQL out of the URL; `fields` defaults to `id` only
   * on this endpoint, so the caller always names them (docs/trackers.md 4.5).
   */
  async search(
    body: { jql: string; fields: string[]; maxResults: number; nextPageToken?: string; properties?: string[] },
    deliveryId?: string,
  ): Promise<JiraSearchPage> {
    return (await this.call<JiraSearchPage>('POST', `${API}/search/jql`, { body, deliveryId })).data;
  }
}

/** How Jira's error bodies read for an operator: ErrorCollection messages, short. */
export function describeJiraError(status: number, body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim().slice(0, 300) || undefined;
  const e = body as JiraErrorCollection | null;
  if (!e || typeof e !== 'object') return undefined;
  const parts = [...(e.errorMessages ?? []), ...Object.entries(e.errors ?? {}).map(([field, message]) => `${field}: ${message}`)];
  if (parts.length === 0) {
    const message = (body as { message?: unknown }).message;
    return typeof message === 'string' ? message : undefined;
  }
  return parts.join('; ').slice(0, 500) || `HTTP ${status}`;
}
