import { z } from 'zod';

/** `limit` (default 100, at most 500) and `after` (an opaque cursor: the last id seen). */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z.coerce.number().int().min(0).optional(),
});

export function pageOf<R extends { id: string | number }, T>(
  name: string,
  rows: R[],
  limit: number,
  map: (row: R) => T,
): Record<string, unknown> {
  const page = rows.slice(0, limit);
  const next = rows.length > limit ? String(page[page.length - 1].id) : null;
  return { [name]: page.map(map), next };
}
