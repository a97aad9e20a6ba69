// Every request the sandbox receives on a tracker API, kept in memory so tests and benchmarks can
// assert on what the client actually sent (method, path, body) and what it got back (status).
// Control routes under /_sandbox/ are not recorded: they are the test harness talking, not a client.

/** Header names whose values are credentials; they are stored as "[redacted]". */
const SECRET_HEADERS = new Set(['x-api-key', 'authorization', 'proxy-authorization', 'cookie']);

export const REDACTED = '[redacted]';

export interface LoggedRequest {
  /** ISO time the request arrived. */
  at: string;
  /** ISO time the answer was ready (what a client's spacing "from the previous answer" is measured against). */
  answeredAt?: string;
  /** Which tracker API the request was addressed to ('plane', later 'github' and 'jira'). */
  tracker: string;
  method: string;
  /** Request path, e.g. "/api/v1/workspaces/acme/projects/…/work-items/". */
  path: string;
  /** Query parameters; a repeated parameter keeps its last value. */
  query: Record<string, string>;
  /** Lower-cased header names; credential values replaced by "[redacted]". */
  headers: Record<string, string>;
  /** Parsed JSON body, or null when there was none or it was not JSON. */
  body: unknown;
  /**
   * HTTP status sent. 0 means no response was sent: the socket was reset by a fault, or the client
   * went away while a timeout fault was hanging.
   */
  status: number;
}

export interface RequestFilter {
  tracker?: string;
  method?: string;
  pathIncludes?: string;
  status?: number;
}

export interface RequestLog {
  record(entry: LoggedRequest): void;
  entries(filter?: RequestFilter): LoggedRequest[];
  /** Requests that could change tracker state (anything but GET and HEAD). */
  writes(filter?: Omit<RequestFilter, 'method'>): LoggedRequest[];
  clear(): void;
  readonly size: number;
}

/** Lower-cases header names and hides credentials; used before anything is stored. */
export function redactHeaders(headers: Headers | Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const pairs = headers instanceof Headers ? headers.entries() : Object.entries(headers);
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    out[key] = SECRET_HEADERS.has(key) ? REDACTED : value;
  }
  return out;
}

/**
 * @param limit oldest entries are dropped beyond this many, so a long benchmark cannot grow memory
 *   without bound.
 */
export function createRequestLog(limit = 10_000): RequestLog {
  let items: LoggedRequest[] = [];

  const matches = (e: LoggedRequest, f: RequestFilter): boolean =>
    (f.tracker === undefined || e.tracker === f.tracker) &&
    (f.method === undefined || e.method === f.method.toUpperCase()) &&
    (f.pathIncludes === undefined || e.path.includes(f.pathIncludes)) &&
    (f.status === undefined || e.status === f.status);

  return {
    record(entry) {
      items.push(entry);
      if (items.length > limit) items = items.slice(items.length - limit);
    },
    entries(filter = {}) {
      return items.filter((e) => matches(e, filter));
    },
    writes(filter = {}) {
      return items.filter((e) => e.method !== 'GET' && e.method !== 'HEAD' && matches(e, filter));
    },
    clear() {
      items = [];
    },
    get size() {
      return items.length;
    },
  };
}
