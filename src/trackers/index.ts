import type { ConnectionConfig } from '../config/schema.ts';
import type { WebhookHandler } from '../sync/port/tracker.ts';
import { createPlaneWebhookHandler } from './plane/webhook.ts';
import { createJiraWebhookHandler } from './jira/webhook.ts';
import { GitHubWebhookHandler } from './github/webhook.ts';
import { GitHubProjectWebhookHandler } from './github-project/webhook.ts';

/** A tracker this version does not know (createAdapter in adapters.ts throws it). */
export class UnsupportedTrackerError extends Error {}

/** A handler that refuses every delivery, for trackers whose webhooks this version cannot read. */
function refusingHandler(reason: string): WebhookHandler {
  return {
    verify: () => ({ ok: false, reason }),
    dedupKey: () => '',
    eventName: () => 'unsupported',
    normalize: () => [{ type: 'ignored', reason }],
  };
}

/**
 * The webhook rules for a connection. Built in the api process from config alone (the secret):
 * verifying and reading a webhook never needs the tracker.
 */
export function createWebhookHandler(connection: ConnectionConfig): WebhookHandler {
  switch (connection.tracker) {
    case 'plane':
      return createPlaneWebhookHandler(connection);
    case 'github':
      return new GitHubWebhookHandler(connection);
    case 'github-project':
      return new GitHubProjectWebhookHandler(connection);
    case 'jira':
      return createJiraWebhookHandler(connection);
    default: {
      const unhandled: never = connection;
      return refusingHandler(`unknown tracker ${(unhandled as { tracker: string }).tracker}`);
    }
  }
}
