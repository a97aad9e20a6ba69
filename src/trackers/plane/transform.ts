import { createRequire } from 'node:module';
import { marked } from 'marked';
import type TurndownService from 'turndown';
import type { FieldValues } from '../../sync/fields.ts';
import type { PlaneIssue } from './wire.ts';

/**
 * Pure mapping between Plane's wire objects and normalized fields. Plane keeps descriptions as
 * sanitised HTML (`description_html`) and comments as `comment_html`; Trackline's items carry
 * markdown, so bodies are converted on the way out and back.
 */

const require = createRequire(import.meta.url);
let turndown: TurndownService | undefined;

/**
 * The HTML-to-markdown converter, loaded at its first use: turndown brings a whole DOM (domino),
 * and the api, which loads this module for the webhook rules, never converts anything (issue 17,
 * section 4: the api's memory).
 */
function converter(): TurndownService {
  if (!turndown) {
    const Turndown = require('turndown') as typeof TurndownService;
    turndown = new Turndown({ headingStyle: 'atx', codeBlockStyle: 'fenced', bulletListMarker: '-' });
  }
  return turndown;
}

export function markdownToHtml(markdown: string): string {
  if (!markdown.trim()) return '<p></p>';
  return (marked.parse(markdown, { async: false, gfm: true }) as string).trim();
}

export function htmlToMarkdown(html: string | null | undefined): string {
  if (!html || html === '<p></p>') return '';
  return converter().turndown(html).trim();
}

export interface PlaneLookups {
  stateName(id: string): string | undefined;
  labelName(id: string): string | undefined;
  memberName(id: string): string | undefined;
}

const idOf = (v: string | { id: string }) => (typeof v === 'string' ? v : v.id);

export function issueToFields(issue: PlaneIssue, lookups: PlaneLookups): FieldValues {
  return {
    title: issue.name,
    body: htmlToMarkdown(issue.description_html),
    state: issue.state ? (lookups.stateName(issue.state) ?? issue.state) : undefined,
    labels: (issue.labels ?? []).map((l) => (typeof l === 'object' ? l.name : (lookups.labelName(l) ?? l))).sort(),
    assignees: (issue.assignees ?? []).map((a) => lookups.memberName(idOf(a)) ?? idOf(a)).sort(),
    priority: issue.priority && issue.priority !== 'none' ? issue.priority : null,
  };
}

export function planeIdentifier(projectIdentifier: string, sequenceId: number): string {
  return `${projectIdentifier}-${sequenceId}`;
}

/** Where a person opens the issue: `{web}/{workspace}/browse/{ET-12}/`. */
export function issueWebUrl(webUrl: string, workspace: string, identifier: string): string {
  return `${webUrl.replace(/\/$/, '')}/${workspace}/browse/${identifier}/`;
}

/** Plane Cloud's API lives on api.plane.so and its app on app.plane.so; self-hosted shares a host. */
export function defaultWebUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  if (url.hostname === 'api.plane.so') return 'https://app.plane.so';
  return url.origin;
}
