// Jira's remote issue links (`/rest/api/3/issue/{issueIdOrKey}/remotelink`): a link from an issue
// to an object elsewhere. "If a globalId is provided and a remote issue link exists with that
// global ID, the remote issue link is updated" (200), otherwise one is created (201). `object.url`
// and `object.title` are required (RemoteObject in the platform spec). DELETE removes one by its
// global ID (`?globalId=`, required) or by its id: 204, or 404 when the issue has no such link.

export interface RemoteLinkRec {
  id: number;
  issueId: string;
  globalId: string | null;
  application: Record<string, unknown> | null;
  relationship: string | null;
  object: Record<string, unknown>;
}

export class JiraRemoteLinks {
  readonly links = new Map<number, RemoteLinkRec>();
  #next = 10000;

  of(issueId: string): RemoteLinkRec[] {
    return [...this.links.values()].filter((l) => l.issueId === issueId).sort((a, b) => a.id - b.id);
  }

  /** Field errors (Jira's 400 errorCollection) or the link written. */
  upsert(issueId: string, body: Record<string, unknown>): { errors: Record<string, string> } | { link: RemoteLinkRec; created: boolean } {
    const object = body.object as Record<string, unknown> | undefined;
    const errors: Record<string, string> = {};
    if (!object || typeof object !== 'object') errors.object = 'The remote object is required.';
    else {
      if (typeof object.url !== 'string' || !object.url) errors.url = "'url' is required.";
      if (typeof object.title !== 'string' || !object.title) errors.title = "'title' is required.";
    }
    if (body.globalId !== undefined && (typeof body.globalId !== 'string' || body.globalId.length > 255))
      errors.globalId = 'The global ID must be at most 255 characters.';
    if (Object.keys(errors).length) return { errors };
    const globalId = typeof body.globalId === 'string' ? body.globalId : null;
    const existing = globalId ? this.of(issueId).find((l) => l.globalId === globalId) : undefined;
    const fields = {
      application: (body.application as Record<string, unknown> | undefined) ?? null,
      relationship: typeof body.relationship === 'string' ? body.relationship : null,
      object: object!,
    };
    if (existing) {
      Object.assign(existing, fields);
      return { link: existing, created: false };
    }
    const link: RemoteLinkRec = { id: this.#next++, issueId, globalId, ...fields };
    this.links.set(link.id, link);
    return { link, created: true };
  }

  /** DELETE …/remotelink?globalId=: false when the issue has no link with that global ID. */
  removeByGlobalId(issueId: string, globalId: string): boolean {
    const link = this.of(issueId).find((l) => l.globalId === globalId);
    return link ? this.links.delete(link.id) : false;
  }

  /** DELETE …/remotelink/{linkId}: false when the issue has no such link. */
  remove(issueId: string, id: number): boolean {
    return this.links.get(id)?.issueId === issueId ? this.links.delete(id) : false;
  }
}

export function remoteLinkJson(link: RemoteLinkRec, base: string, issueKeyOrId: string): Record<string, unknown> {
  return {
    id: link.id,
    self: `${base}/rest/api/3/issue/${issueKeyOrId}/remotelink/${link.id}`,
    ...(link.globalId ? { globalId: link.globalId } : {}),
    ...(link.application ? { application: link.application } : {}),
    ...(link.relationship ? { relationship: link.relationship } : {}),
    object: link.object,
  };
}
