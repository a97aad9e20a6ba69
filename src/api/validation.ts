import type { z } from 'zod';
import { ApiError } from './errors.ts';

/** Validates with a Zod schema; the 400 names the first offending field by its path. */
export function validate<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = deepestIssue(result.error.issues);
  const path = formatPath(issue.path);
  throw new ApiError('invalid_request', path ? `${path}: ${issue.message}` : issue.message);
}

/** Unions report "invalid input" at the top; the nested issue names the real field. */
function deepestIssue(issues: z.core.$ZodIssue[]): z.core.$ZodIssue {
  let issue = issues[0];
  while (issue.code === 'invalid_union' && issue.errors?.length) {
    // Prefer the branch that got furthest (the longest path), e.g. the batch form for {"events": [...]}.
    const candidates = issue.errors.flat();
    const best = candidates.reduce((a, b) => (b.path.length > a.path.length ? b : a), candidates[0]);
    issue = { ...best, path: [...issue.path, ...best.path] };
  }
  return issue;
}

export function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), '');
}
