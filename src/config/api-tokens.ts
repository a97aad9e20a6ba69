import { z } from 'zod';

/**
 * What a `/v1` bearer token may do. An `[api] tokens` entry is either a string (every scope, every
 * connection: the DESIGN 4.2 form) or `{ token, scopes, connections }`.
 *
 * - `events:write`: POST /v1/events
 * - `items:read`: items, their activity, deliveries and connections (reading)
 * - `changes:read`: the change feed and conflicts (reading)
 * - `deliveries:write`: retrying a delivery
 * - `admin`: resolving conflicts, a full sync of a connection, Bull Board
 * - `metrics`: GET /metrics (when it asks for a token)
 */
export const SCOPES = ['events:write', 'items:read', 'changes:read', 'deliveries:write', 'admin', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value);

const ScopeName = z.string().refine(isScope, {
  error: (issue) => `unknown scope "${String(issue.input)}" (expected one of ${SCOPES.join(', ')})`,
});

export const ApiTokenEntrySchema = z.union([
  z.string().min(1),
  z.strictObject({
    token: z.string().min(1),
    /** Absent: every scope. */
    scopes: z.array(ScopeName).min(1).optional(),
    /** Absent: every connection. Present: the token sees and touches only these connections' items. */
    connections: z.array(z.string().min(1)).min(1).optional(),
  }),
]);
export type ApiTokenEntry = z.infer<typeof ApiTokenEntrySchema>;

/** One accepted token, as the api checks it. */
export interface ApiToken {
  token: string;
  scopes: ReadonlySet<Scope>;
  /** null: every connection. */
  connections: ReadonlySet<string> | null;
  /**
   * The entry lists its scopes. Only such an entry opens the operator pages (Bull Board, a closed
   * /metrics): a /v1 token written as a plain string never did, and still does not.
   */
  listsScopes: boolean;
}

export function normalizeApiTokens(entries: readonly ApiTokenEntry[]): ApiToken[] {
  return entries.map((entry) =>
    typeof entry === 'string'
      ? { token: entry, scopes: new Set(SCOPES), connections: null, listsScopes: false }
      : {
          token: entry.token,
          scopes: new Set((entry.scopes ?? SCOPES) as Scope[]),
          connections: entry.connections ? new Set(entry.connections) : null,
          listsScopes: entry.scopes !== undefined,
        },
  );
}

/**
 * The tokens GET /metrics takes, or null when it is open (the default, as Prometheus targets
 * usually are). `[metrics] token`, or `require_token`, closes it; then `[metrics] token` and every
 * `[api] tokens` entry that lists the `metrics` scope are accepted.
 */
export function metricsTokens(config: {
  api: { tokens: readonly ApiTokenEntry[] };
  metrics?: { token?: string; require_token?: boolean };
}): ApiToken[] | null {
  if (!config.metrics?.token && !config.metrics?.require_token) return null;
  const own: ApiToken[] = config.metrics.token
    ? [{ token: config.metrics.token, scopes: new Set<Scope>(['metrics']), connections: null, listsScopes: true }]
    : [];
  return [...own, ...operatorPageTokens(config.api.tokens)];
}

/**
 * The api tokens the operator pages know: those that list their scopes (so one without the page's
 * scope hears a 403 naming it). A token without `scopes`, a plain string included, is unknown
 * there (401), as /v1 tokens always were.
 */
export function operatorPageTokens(entries: readonly ApiTokenEntry[]): ApiToken[] {
  return normalizeApiTokens(entries).filter((t) => t.listsScopes);
}
