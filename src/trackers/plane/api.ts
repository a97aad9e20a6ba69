import type { HttpClient } from '../http-client.ts';
import type {
  MilestoneKind,
  PlaneGroup,
  PlaneIssue,
  PlaneLabel,
  PlaneLink,
  PlaneMember,
  PlanePage,
  PlaneProject,
  PlaneState,
} from './wire.ts';

/**
 * Plane's REST v1 routes, one method per call Trackline makes (docs/trackers.md 2.2). The newer
 * `work-items/` routes are used; they are the same views as the deprecated `issues/` ones.
 */
export class PlaneApi {
  constructor(
    private readonly http: HttpClient,
    private readonly workspace: string,
    private readonly projectId: string,
  ) {}

  private get project() {
    return `/api/v1/workspaces/${encodeURIComponent(this.workspace)}/projects/${encodeURIComponent(this.projectId)}`;
  }

  async getProject(deliveryId?: string): Promise<PlaneProject> {
    return (await this.http.request<PlaneProject>('GET', `${this.project}/`, { deliveryId })).data;
  }

  /** Pages through a list route; Plane's documented page size maximum is 100. */
  async listAll<T>(path: string, deliveryId?: string): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const { data } = await this.http.request<PlanePage<T> | T[]>('GET', path, {
        query: { per_page: 100, cursor },
        deliveryId,
      });
      // Some list routes (members) answer a bare array rather than a page envelope.
      if (Array.isArray(data)) return data;
      out.push(...data.results);
      if (!data.next_page_results) break;
      cursor = data.next_cursor;
    }
    return out;
  }

  /** One page of work items, most recently updated first (Plane has no "updated since" filter). */
  async pageIssuesByUpdate(cursor: string | undefined, deliveryId?: string): Promise<PlanePage<PlaneIssue>> {
    const { data } = await this.http.request<PlanePage<PlaneIssue>>('GET', `${this.project}/work-items/`, {
      query: { order_by: '-updated_at', per_page: 100, cursor },
      deliveryId,
    });
    return data;
  }

  /** Every work item id, a page of 100 at a time, asking only for the id field. */
  async listIssueIds(deliveryId?: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const { data } = await this.http.request<PlanePage<{ id: string }>>('GET', `${this.project}/work-items/`, {
        query: { per_page: 100, cursor, fields: 'id' },
        deliveryId,
      });
      ids.push(...data.results.map((r) => r.id));
      if (!data.next_page_results) break;
      cursor = data.next_cursor;
    }
    return ids;
  }

  listStates(deliveryId?: string) {
    return this.listAll<PlaneState>(`${this.project}/states/`, deliveryId);
  }

  listLabels(deliveryId?: string) {
    return this.listAll<PlaneLabel>(`${this.project}/labels/`, deliveryId);
  }

  listMembers(deliveryId?: string) {
    return this.listAll<PlaneMember>(`${this.project}/members/`, deliveryId);
  }

  async createLabel(name: string, deliveryId?: string): Promise<PlaneLabel> {
    return (await this.http.request<PlaneLabel>('POST', `${this.project}/labels/`, { body: { name }, deliveryId })).data;
  }

  private groupPath(kind: MilestoneKind): string {
    return `${this.project}/${kind === 'cycle' ? 'cycles' : 'modules'}/`;
  }

  /** Every cycle or module of the project. */
  listGroups(kind: MilestoneKind, deliveryId?: string) {
    return this.listAll<PlaneGroup>(this.groupPath(kind), deliveryId);
  }

  async createGroup(kind: MilestoneKind, name: string, deliveryId?: string): Promise<PlaneGroup> {
    return (await this.http.request<PlaneGroup>('POST', this.groupPath(kind), { body: { name }, deliveryId })).data;
  }

  /** The work items in a cycle or module (the membership endpoints list work items). */
  listGroupIssues(kind: MilestoneKind, id: string, deliveryId?: string) {
    return this.listAll<PlaneIssue>(`${this.groupPath(kind)}${encodeURIComponent(id)}/${kind}-issues/`, deliveryId);
  }

  /**
   * Adds a work item (`{"issues": [id]}`, as Plane's docs and SDKs send it); a cycle takes it from
   * the cycle it was in. Plane's refusal (400: a completed cycle) comes back as its message.
   */
  async addToGroup(kind: MilestoneKind, id: string, issueId: string, deliveryId?: string): Promise<{ refused: string } | null> {
    const res = await this.http.request<{ error?: string; message?: string }>(
      'POST',
      `${this.groupPath(kind)}${encodeURIComponent(id)}/${kind}-issues/`,
      {
        body: { issues: [issueId] },
        accept: [400],
        deliveryId,
      },
    );
    if (res.status !== 400) return null;
    return { refused: String(res.data?.error ?? res.data?.message ?? JSON.stringify(res.data)) };
  }

  /** Takes a work item out of a cycle or module; one that is not in it (404) is already out. */
  async removeFromGroup(kind: MilestoneKind, id: string, issueId: string, deliveryId?: string): Promise<void> {
    await this.http.request('DELETE', `${this.groupPath(kind)}${encodeURIComponent(id)}/${kind}-issues/${encodeURIComponent(issueId)}/`, {
      accept: [404],
      deliveryId,
    });
  }

  /** Lookup by the external pair answers the single object, or 404 when there is none. */
  async findByExternalId(externalId: string, externalSource: string, deliveryId?: string): Promise<PlaneIssue | null> {
    const res = await this.http.request<PlaneIssue>('GET', `${this.project}/work-items/`, {
      query: { external_id: externalId, external_source: externalSource },
      accept: [404],
      deliveryId,
    });
    return res.status === 404 || !res.data?.id ? null : res.data;
  }

  /** Creates a work item; on a duplicate external pair Plane answers 409 with the existing id. */
  async createIssue(body: Record<string, unknown>, deliveryId?: string): Promise<{ created: PlaneIssue } | { existingId: string }> {
    const res = await this.http.request<PlaneIssue & { id: string }>('POST', `${this.project}/work-items/`, {
      body,
      accept: [409],
      deliveryId,
    });
    if (res.status === 409) return { existingId: String((res.data as { id?: string }).id) };
    return { created: res.data };
  }

  async getIssue(id: string, deliveryId?: string): Promise<PlaneIssue> {
    return (await this.http.request<PlaneIssue>('GET', `${this.project}/work-items/${encodeURIComponent(id)}/`, { deliveryId })).data;
  }

  async getIssueByIdentifier(identifier: string, deliveryId?: string): Promise<PlaneIssue> {
    const path = `/api/v1/workspaces/${encodeURIComponent(this.workspace)}/work-items/${encodeURIComponent(identifier)}/`;
    return (await this.http.request<PlaneIssue>('GET', path, { deliveryId })).data;
  }

  async updateIssue(id: string, body: Record<string, unknown>, deliveryId?: string): Promise<PlaneIssue> {
    return (await this.http.request<PlaneIssue>('PATCH', `${this.project}/work-items/${encodeURIComponent(id)}/`, { body, deliveryId }))
      .data;
  }

  /** Comments carry their own external pair; a second post of the same comment answers 409. */
  async addComment(issueId: string, body: Record<string, unknown>, deliveryId?: string): Promise<'created' | 'duplicate'> {
    const res = await this.http.request('POST', `${this.project}/work-items/${encodeURIComponent(issueId)}/comments/`, {
      body,
      accept: [409],
      deliveryId,
    });
    return res.status === 409 ? 'duplicate' : 'created';
  }

  /** The links on a work item (`IssueLink`: title and URL). */
  listLinks(issueId: string, deliveryId?: string) {
    return this.listAll<PlaneLink>(`${this.project}/work-items/${encodeURIComponent(issueId)}/links/`, deliveryId);
  }

  async createLink(issueId: string, body: { title: string; url: string }, deliveryId?: string): Promise<PlaneLink> {
    return (
      await this.http.request<PlaneLink>('POST', `${this.project}/work-items/${encodeURIComponent(issueId)}/links/`, { body, deliveryId })
    ).data;
  }

  /** Answers null when the link is gone (deleted by a person). */
  async updateLink(issueId: string, linkId: string, body: { title: string }, deliveryId?: string): Promise<PlaneLink | null> {
    const res = await this.http.request<PlaneLink>(
      'PATCH',
      `${this.project}/work-items/${encodeURIComponent(issueId)}/links/${encodeURIComponent(linkId)}/`,
      {
        body,
        accept: [404],
        deliveryId,
      },
    );
    return res.status === 404 ? null : res.data;
  }

  /** Answers false when the link was already gone (404). */
  async deleteLink(issueId: string, linkId: string, deliveryId?: string): Promise<boolean> {
    const res = await this.http.request(
      'DELETE',
      `${this.project}/work-items/${encodeURIComponent(issueId)}/links/${encodeURIComponent(linkId)}/`,
      { accept: [404], deliveryId },
    );
    return res.status !== 404;
  }
}
