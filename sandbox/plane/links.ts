// Plane's work item links (`…/work-items/{issue_id}/links/`, the `IssueLink` model): a title and
// a URL on a work item. As Plane's serializer does, a URL that is not one is a 400, and a second
// link with the same URL on one work item is a 400 "URL already exists for this Issue".

import { randomUUID } from 'node:crypto';
import { NOT_FOUND_BODY, PlaneApiError, type PlaneIssue } from './model.ts';

export interface PlaneLink {
  id: string;
  issue: string;
  project: string;
  workspace: string;
  title: string | null;
  url: string;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  created_by: string;
  updated_by: string;
}

export class PlaneLinks {
  readonly links = new Map<string, PlaneLink>();

  of(issueId: string): PlaneLink[] {
    return [...this.links.values()].filter((l) => l.issue === issueId).sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  get(issueId: string, id: string): PlaneLink {
    const link = this.links.get(id);
    if (!link || link.issue !== issueId) throw new PlaneApiError(404, NOT_FOUND_BODY);
    return link;
  }

  create(issue: PlaneIssue, workspace: string, body: Record<string, unknown>, user: string): PlaneLink {
    const url = checkUrl(body.url);
    if (this.of(issue.id).some((l) => l.url === url)) throw new PlaneApiError(400, { error: 'URL already exists for this Issue' });
    const now = new Date().toISOString();
    const link: PlaneLink = {
      id: randomUUID(),
      issue: issue.id,
      project: issue.project,
      workspace,
      title: checkTitle(body.title),
      url,
      metadata: {},
      created_at: now,
      updated_at: now,
      created_by: user,
      updated_by: user,
    };
    this.links.set(link.id, link);
    return link;
  }

  update(issueId: string, id: string, body: Record<string, unknown>, user: string): PlaneLink {
    const link = this.get(issueId, id);
    if (body.url !== undefined) {
      const url = checkUrl(body.url);
      if (url !== link.url && this.of(issueId).some((l) => l.url === url))
        throw new PlaneApiError(400, { error: 'URL already exists for this Issue' });
      link.url = url;
    }
    if (body.title !== undefined) link.title = checkTitle(body.title);
    link.updated_at = new Date().toISOString();
    link.updated_by = user;
    return link;
  }

  delete(issueId: string, id: string): void {
    this.get(issueId, id);
    this.links.delete(id);
  }
}

function checkUrl(value: unknown): string {
  if (typeof value !== 'string' || !value) throw new PlaneApiError(400, { url: ['This field is required.'] });
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new PlaneApiError(400, { error: 'Invalid URL format.' });
  }
  return value;
}

function checkTitle(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > 255)
    throw new PlaneApiError(400, { title: ['Ensure this field has no more than 255 characters.'] });
  return value;
}

export function linkToJson(link: PlaneLink): Record<string, unknown> {
  return { ...link };
}
