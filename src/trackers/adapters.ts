import type { ConnectionConfig } from '../config/schema.ts';
import type { PacerRegistry } from '../pacing/registry.ts';
import { parseDuration } from '../config/duration.ts';
import type { CallRecorder } from './call-recorder.ts';
import { HttpClient } from './http-client.ts';
import { PlaneAdapter } from './plane/adapter.ts';
import { readPlaneSignals } from './plane/rate-signals.ts';
import type { TrackerAdapter } from '../sync/port/tracker.ts';
import type { PullRequestCapabilities } from '../sync/port/pull-requests.ts';
import { JiraAdapter } from './jira/adapter.ts';
import { describeJiraError } from './jira/api.ts';
import { createJiraSignalReader } from './jira/rate-signals.ts';
import { jiraIssueWriteGate } from './jira/write-gate.ts';
import { GitHubAdapter } from './github/adapter.ts';
import { createGitHubTransport } from './github/transport.ts';
import { GitHubProjectAdapter } from './github-project/adapter.ts';
import { UnsupportedTrackerError } from './index.ts';

/*
 * The tracker adapters: the HTTP clients, GitHub's Octokit, the trackers' API modules. Only
 * processes that run workers load this module (src/runtime.ts imports it for them): the api
 * verifies and reads webhooks with src/trackers/index.ts alone.
 */

export interface AdapterDeps {
  pacers: PacerRegistry;
  recorder: CallRecorder;
  timeoutMs: number;
}

/** Published budgets, used when a connection sets no `rate_limit` (docs/trackers.md). */
const DEFAULT_BUDGET: Record<ConnectionConfig['tracker'], { requests: number; perMs: number }> = {
  plane: { requests: 60, perMs: 60_000 },
  github: { requests: 5000, perMs: 3_600_000 },
  'github-project': { requests: 5000, perMs: 3_600_000 },
  jira: { requests: 50, perMs: 1_000 },
};

function budgetFor(connection: ConnectionConfig): { requests?: number; perMs?: number } {
  if (connection.rate_limit === 'off') return {};
  if (!connection.rate_limit) return DEFAULT_BUDGET[connection.tracker];
  return { requests: connection.rate_limit.requests, perMs: parseDuration(connection.rate_limit.per) ?? 60_000 };
}

/** Builds the adapter for a connection; adding a tracker is a compile error until handled here. */
export function createAdapter(connection: ConnectionConfig, deps: AdapterDeps): TrackerAdapter & PullRequestCapabilities {
  switch (connection.tracker) {
    case 'plane': {
      const budget = budgetFor(connection);
      const http = new HttpClient({
        connectionId: connection.id,
        baseUrl: connection.base_url,
        headers: { 'x-api-key': connection.api_key },
        pacer: deps.pacers.forCredential(`plane:${connection.base_url}:${connection.api_key}`, budget),
        recorder: deps.recorder,
        timeoutMs: deps.timeoutMs,
        readSignals: readPlaneSignals,
      });
      return new PlaneAdapter(connection, http);
    }
    case 'github':
      return new GitHubAdapter(connection, createGitHubTransport(connection, budgetFor(connection), deps));
    case 'github-project':
      return new GitHubProjectAdapter(connection, createGitHubTransport(connection, budgetFor(connection), deps));
    case 'jira': {
      // Jira's burst limits are per tenant, shared by every token on the site (docs/trackers.md
      // 4.6), so connections to one site share one pacer whatever their credentials.
      const http = new HttpClient({
        connectionId: connection.id,
        baseUrl: connection.base_url,
        headers: { authorization: `Basic ${Buffer.from(`${connection.email}:${connection.api_token}`).toString('base64')}` },
        pacer: deps.pacers.forCredential(`jira:${connection.base_url}`, budgetFor(connection)),
        recorder: deps.recorder,
        timeoutMs: deps.timeoutMs,
        readSignals: createJiraSignalReader(),
        describeError: describeJiraError,
      });
      return new JiraAdapter(connection, http, jiraIssueWriteGate(connection, deps.pacers));
    }
    default: {
      const unhandled: never = connection;
      throw new UnsupportedTrackerError(`unknown tracker ${(unhandled as { tracker: string }).tracker}`);
    }
  }
}
