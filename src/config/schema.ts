import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { ApiTokenEntrySchema } from './api-tokens.ts';

/**
 * The one schema for `trackline.toml` (DESIGN 4.2). Every object is strict, so a misspelt key
 * is a start-up error that names it instead of a setting silently ignored.
 */

const duration = z.string().refine((s) => parseDuration(s) !== null, {
  message: 'expected a duration like "30s", "5m", "1h" or "0"',
});

const stringMap = z.record(z.string(), z.string());

/** The item's core fields (src/sync/fields.ts SYNC_FIELDS; the config layer sits below the engine). */
const CORE_FIELD_NAMES = ['title', 'body', 'state', 'labels', 'assignees', 'priority', 'milestone'];

const RateLimitSchema = z.strictObject({
  /** Requests allowed per window. */
  requests: z.number().int().positive(),
  /** The window, e.g. "1m". */
  per: duration,
});

const ConnectionId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'use letters, digits, "-", "_" or "." (it is also a URL path segment)');

/** The key of an event's `links` that names the item's existing pull request (`"#123"`), beside connection ids. */
export const PULL_REQUEST_LINK_KEY = 'pull_request';

/** Keys every tracker's connection takes. */
const common = {
  id: ConnectionId,
  direction: z.enum(['both', 'push', 'pull']).default('both'),
  conflict_strategy: z.enum(['local-wins', 'remote-wins', 'merge', 'manual']).default('local-wins'),
  /** "0" turns polling off; the default polls every 5 minutes to catch what webhooks miss. */
  poll_interval: duration.default('5m'),
  /** Which item kinds this connection carries; absent means all. */
  kinds: z.array(z.string().min(1)).optional(),
  create_missing: z.boolean().default(true),
  /**
   * The item went back from a done state to an earlier one while the issue is done in the
   * tracker: "ask" holds the state push as an open conflict naming both sides, "allow" re-opens
   * the issue. A forced sync or an operator's `resolve --use local` re-opens it either way.
   */
  reopen: z.enum(['ask', 'allow']).default('ask'),
  /**
   * Whether a state may close the remote issue (a state_map value `closed`, `closed:not_planned`
   * on GitHub; no other tracker's state closes anything). Absent: true, as the state_map says.
   */
  close_issues: z.boolean().optional(),
  /**
   * Local states that mean done, for `reopen`. Absent: done, closed, completed, cancelled,
   * canceled, and every local state whose state_map value closes the issue.
   */
  done_states: z.array(z.string().min(1)).optional(),
  /** Overrides the tracker's published budget; "off" disables pacing (sandbox and benchmarks). */
  rate_limit: z.union([RateLimitSchema, z.literal('off')]).optional(),
  webhook_secret: z.string().min(1).optional(),
  state_map: stringMap.default({}),
  label_map: stringMap.default({}),
  priority_map: stringMap.default({}),
  /** Local user name -> the tracker's user (Plane member id or email, GitHub login, Jira accountId). */
  user_map: stringMap.default({}),
  /** Remote issues carrying one of these labels become new items (inbound import). */
  import_labels: z.array(z.string()).default([]),
};

const PlaneConnection = z.strictObject({
  ...common,
  tracker: z.literal('plane'),
  base_url: z.string().url().default('https://api.plane.so'),
  /** Where people open issues; derived from base_url when absent. */
  web_url: z.string().url().optional(),
  workspace: z.string().min(1),
  project: z.string().min(1),
  api_key: z.string().min(1),
  /** What carries the item's milestone in Plane: a cycle (the default) or a module. */
  milestone_as: z.enum(['cycle', 'module']).default('cycle'),
  /**
   * An item's custom field -> a label prefix (`risk = "label:risk-"`: risk "high" is the label
   * `risk-high`). Plane's public API has no custom properties on every edition, so labels carry them.
   */
  field_map: z
    .record(
      z.string(),
      z.string().regex(/^label:\S+$/, 'expected "label:<prefix>", e.g. "label:risk-" (Plane carries custom fields as prefixed labels)'),
    )
    .superRefine((map, ctx) => {
      for (const key of Object.keys(map)) {
        if (CORE_FIELD_NAMES.includes(key))
          ctx.addIssue({ code: 'custom', path: [key], message: 'Plane carries this field itself; field_map is for custom fields' });
      }
    })
    .default({}),
});

/** The states Trackline reports for a pull request (README "Pull requests"). */
export const PULL_REQUEST_STATES = ['draft', 'open', 'approved', 'changes_requested', 'merged', 'closed'] as const;

/**
 * `[connections.pull_requests]` of a `github` connection: whether and how Trackline opens a pull
 * request for an item's branch, and what a pull request's state does to the item.
 */
const PullRequestsSchema = z.strictObject({
  /** Open a pull request from the item's branch when it reaches an `open_when` state. */
  auto_create: z.boolean().default(false),
  /** Open it as a draft. */
  draft: z.boolean().default(false),
  /** Request reviews once it is open (from `reviewers`, `team_reviewers` and, when asked, the assignees). */
  request_review: z.boolean().default(false),
  /** GitHub logins asked to review. */
  reviewers: z.array(z.string().min(1)).default([]),
  /** Team slugs of the repository's organization asked to review. */
  team_reviewers: z.array(z.string().min(1)).default([]),
  /** Also ask the item's assignees (through `user_map`), leaving out the pull request's author. */
  reviewers_from_assignees: z.boolean().default(false),
  /** The branch it merges into; absent: the repository's default branch. */
  base: z.string().min(1).optional(),
  /** Item states (the orchestrator's vocabulary) at which the pull request is opened. */
  open_when: z.array(z.string().min(1)).default([]),
  /** Pull request state -> item state, e.g. merged = "done" (opt-in; unmapped states move nothing). */
  state_map: z.partialRecord(z.enum(PULL_REQUEST_STATES), z.string().min(1)).default({}),
});

const GitHubConnection = z.strictObject({
  ...common,
  tracker: z.literal('github'),
  base_url: z.string().url().default('https://api.github.com'),
  owner: z.string().min(1),
  repo: z.string().min(1),
  token: z.string().min(1),
  pull_requests: PullRequestsSchema.optional(),
});

const GitHubProjectConnection = z.strictObject({
  ...common,
  tracker: z.literal('github-project'),
  base_url: z.string().url().default('https://api.github.com'),
  owner: z.string().min(1),
  project_number: z.number().int().positive(),
  token: z.string().min(1),
  status_field: z.string().default('Status'),
  field_map: stringMap.default({}),
});

const JiraConnection = z.strictObject({
  ...common,
  tracker: z.literal('jira'),
  base_url: z.string().url(),
  project_key: z.string().min(1),
  email: z.string().min(1),
  api_token: z.string().min(1),
  issue_type: z.string().default('Task'),
  /** Item custom field (`risk` or `fields.risk`) -> Jira field, by name or id (`customfield_10042`). */
  field_map: stringMap.default({}),
});

export const ConnectionSchema = z.discriminatedUnion('tracker', [
  PlaneConnection,
  GitHubConnection,
  GitHubProjectConnection,
  JiraConnection,
]);

export const ConfigSchema = z
  .strictObject({
    api: z
      .strictObject({
        /** Bearer tokens for /v1: strings (every scope) or `{ token, scopes, connections }` (api-tokens.ts). */
        tokens: z.array(ApiTokenEntrySchema).default([]),
      })
      .default({ tokens: [] }),
    admin: z.strictObject({ username: z.string().min(1), password: z.string().min(1) }).optional(),
    /** GET /metrics. Open when absent or without a token (the Prometheus convention). */
    metrics: z
      .strictObject({
        /** When set, /metrics takes `Authorization: Bearer <token>`. */
        token: z.string().min(1).optional(),
        /**
         * /metrics takes a bearer token even without `token`: an `[api] tokens` entry with the
         * `metrics` scope. Implied by `token`; default false.
         */
        require_token: z.boolean().optional(),
      })
      .optional(),
    orchestrator: z
      .strictObject({
        callback_url: z.string().url(),
        secret: z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/, 'expected a Standard Webhooks secret: "whsec_" + base64'),
      })
      .optional(),
    /** The Postgres client (the server itself comes from DATABASE_URL). */
    database: z
      .strictObject({
        /**
         * Longest one statement may run, lock waits included; "0" turns it off. A statement
         * past it fails with a retryable error: a job is retried with backoff and an api request
         * answers 503, instead of holding a worker or a request while a lock is held elsewhere.
         */
        statement_timeout: duration.default('30s'),
      })
      .default({ statement_timeout: '30s' }),
    /**
     * Where the queues live. "redis" (BullMQ's own store) or "postgres" (BullMQ's PostgreSQL
     * backend, in the schema `bullmq` of DATABASE_URL's database, so Trackline needs no Redis).
     * Absent: "redis" when REDIS_URL is set or a Redis answers on 127.0.0.1:6379, else "postgres".
     * The pacers' budgets and the coalescing flags go where the queues are.
     */
    queue: z
      .strictObject({
        backend: z.enum(['redis', 'postgres']).optional(),
      })
      .default({}),
    /** Worker tuning; the defaults suit a small install. */
    worker: z
      .strictObject({
        /**
         * Reconcile jobs one worker process runs at once. They wait on tracker I/O, not CPU, and
         * share their Postgres statements (StatementBatch), so more at once costs little: 64
         * synced ~1,070 changes/s on 2 cores where 32 synced ~850, waiting on round trips
         * (bench/sync.ts). The pacer, not this, keeps each tracker's budget.
         */
        concurrency: z.number().int().positive().default(64),
        /** Attempts for a job failing with a retryable error before it is marked failed. */
        attempts: z.number().int().positive().default(8),
        /** Base of the exponential backoff between attempts, e.g. "1s". */
        backoff: duration.default('1s'),
        /** Per tracker request timeout. */
        request_timeout: duration.default('30s'),
        /**
         * How long a running job's lock lasts without renewal: a job whose worker died is taken
         * over by another worker after about this long.
         */
        lock_duration: duration.default('10s'),
        /**
         * Minimum time between two syncs of one item to one connection. The first change syncs
         * at once; changes within the window coalesce into one trailing sync, made once the item
         * has been quiet this long (at most 4 windows after the burst began). "0" turns it off.
         */
        coalesce_window: duration.default('500ms'),
      })
      .default({ concurrency: 64, attempts: 8, backoff: '1s', request_timeout: '30s', lock_duration: '10s', coalesce_window: '500ms' }),
    connections: z.array(ConnectionSchema).default([]),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.connections.forEach((c, i) => {
      if (seen.has(c.id)) ctx.addIssue({ code: 'custom', path: ['connections', i, 'id'], message: `duplicate connection id "${c.id}"` });
      // An event's `links` holds connection ids and this reserved key side by side.
      if (c.id === PULL_REQUEST_LINK_KEY)
        ctx.addIssue({
          code: 'custom',
          path: ['connections', i, 'id'],
          message: `"${c.id}" is reserved (links.${c.id} names an item's pull request)`,
        });
      seen.add(c.id);
    });
    // A token limited to a connection that does not exist would silently see nothing.
    config.api.tokens.forEach((entry, i) => {
      if (typeof entry === 'string') return;
      entry.connections?.forEach((id, j) => {
        if (!seen.has(id))
          ctx.addIssue({ code: 'custom', path: ['api', 'tokens', i, 'connections', j], message: `unknown connection "${id}"` });
      });
    });
    if (
      config.metrics?.require_token &&
      !config.metrics.token &&
      !config.api.tokens.some((t) => typeof t === 'string' || !t.scopes || t.scopes.includes('metrics'))
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics', 'require_token'],
        message: 'no token can read /metrics: set metrics.token or give an [api] token the "metrics" scope',
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;
export type ConnectionConfig = z.infer<typeof ConnectionSchema>;
export type TrackerKind = ConnectionConfig['tracker'];
export type PlaneConnectionConfig = z.infer<typeof PlaneConnection>;
export type GitHubConnectionConfig = z.infer<typeof GitHubConnection>;
export type GitHubProjectConnectionConfig = z.infer<typeof GitHubProjectConnection>;
export type PullRequestsConfig = z.infer<typeof PullRequestsSchema>;
export type PullRequestState = (typeof PULL_REQUEST_STATES)[number];
export type JiraConnectionConfig = z.infer<typeof JiraConnection>;
