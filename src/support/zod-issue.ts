import type { z } from 'zod';

/**
 * The issue worth showing a person. A union reports "invalid input" at its own path; the branch
 * that got furthest (the longest path) names the real field, e.g. `rate_limit.requests`.
 */
export function deepestIssue(issues: z.core.$ZodIssue[]): z.core.$ZodIssue {
  let issue = issues[0];
  while (issue.code === 'invalid_union' && issue.errors?.length) {
    const candidates = issue.errors.flat();
    const best = candidates.reduce((a, b) => (b.path.length > a.path.length ? b : a), candidates[0]);
    issue = { ...best, path: [...issue.path, ...best.path] };
  }
  return issue;
}
