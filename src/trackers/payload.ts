import type { HeaderBag, InboundChange } from '../sync/port/tracker.ts';

/**
 * Small readers shared by the trackers' webhook handlers: payloads are untrusted JSON, so every
 * field is read defensively, and header names arrive in whatever case the server kept.
 */

/** Header lookup without regard to case (HeaderBag keys come as the server delivered them). */
export function header(headers: HeaderBag, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

export function ignored(reason: string): InboundChange {
  return { type: 'ignored', reason };
}

export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
