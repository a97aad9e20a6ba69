import type { RateSignals, ResponseHeaders } from '../http-client.ts';

/**
 * Jira Cloud's budget signals (docs/trackers.md 4.6):
 * - a 429 carries `Retry-After` (seconds) — honour it;
 * - a gateway-level 429 may carry no Retry-After, only `X-RateLimit-Reset`, an ISO 8601 time;
 * - with neither, back off exponentially with jitter;
 * - some 503s carry `Retry-After` too: the connection waits that long before its retry;
 * - `RateLimit-Reason` says which limiter refused (`jira-burst-based`, `jira-per-issue-on-write`,
 *   `jira-quota-*`); it is kept on the tracker-call row for operators.
 *
 * A per-issue refusal (`jira-per-issue-on-write`) still pauses the whole connection for its
 * Retry-After: the HttpClient has one pause per connection, the refusals are rare (per-issue
 * writes are spaced by IssueWriteGate so Trackline never reaches the limit by itself) and their
 * waits short. 413 is not a rate signal: it means a per-issue *count* limit (comments,
 * attachments) is reached, which waiting does not fix.
 */

const KEEP = [
  'retry-after',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-ratelimit-nearlimit',
  'ratelimit-reason',
  'beta-ratelimit',
  'beta-retry-after',
];

/** The longest pause taken from a reset time: the points quota resets at the top of the hour. */
const MAX_PAUSE_MS = 60 * 60_000;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

export interface JiraSignalOptions {
  now?: () => number;
  random?: () => number;
}

/**
 * Builds the reader for one connection. It remembers how many 429s in a row came without a hint,
 * for the exponential backoff; any other answer resets the count.
 */
export function createJiraSignalReader(options: JiraSignalOptions = {}): (status: number, headers: ResponseHeaders) => RateSignals {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  let blindRefusals = 0;
  return (status, headers) => {
    const keep: Record<string, string> = {};
    for (const name of KEEP) {
      const value = headers.get(name);
      if (value !== null) keep[name] = value;
    }
    const reason = headers.get('ratelimit-reason') ?? undefined;
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now());
    if (status === 429) {
      if (retryAfterMs !== undefined) {
        blindRefusals = 0;
        return {
          keep,
          pauseMs: Math.max(1_000, retryAfterMs),
          reason: describe('Retry-After', headers.get('retry-after'), reason),
          limited: true,
        };
      }
      const resetMs = parseReset(headers.get('x-ratelimit-reset'), now());
      if (resetMs !== undefined) {
        blindRefusals = 0;
        return {
          keep,
          pauseMs: Math.min(MAX_PAUSE_MS, Math.max(1_000, resetMs)),
          reason: describe('X-RateLimit-Reset', headers.get('x-ratelimit-reset'), reason),
          limited: true,
        };
      }
      blindRefusals++;
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (blindRefusals - 1));
      // "Equal jitter": at least half the ceiling, so a burst of refused callers spreads out.
      const pauseMs = Math.round(ceiling / 2 + random() * (ceiling / 2));
      return { keep, pauseMs, reason: describe('no Retry-After or X-RateLimit-Reset; backing off', null, reason), limited: true };
    }
    blindRefusals = 0;
    if (status === 503 && retryAfterMs !== undefined) {
      return {
        keep,
        pauseMs: Math.min(MAX_PAUSE_MS, Math.max(1_000, retryAfterMs)),
        reason: describe('503 Retry-After', headers.get('retry-after'), reason),
      };
    }
    return { keep };
  };
}

function describe(source: string, value: string | null, reason: string | undefined): string {
  return `Jira ${source.startsWith('503') ? '' : '429, '}${source}${value !== null ? ` ${value}` : ''}${reason ? ` (${reason})` : ''}`;
}

/** Retry-After is delta-seconds, or an HTTP date (RFC 9110); both are accepted. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/**
 * X-RateLimit-Reset as Jira sends it: ISO 8601 (`2026-03-26T16:00Z`). Plain numbers are read as
 * epoch seconds (or milliseconds when that large), in case a gateway sends one.
 */
export function parseReset(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  let at: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    const n = Number(trimmed);
    at = n > 1e12 ? n : n * 1000;
  } else {
    at = Date.parse(trimmed.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  }
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}
