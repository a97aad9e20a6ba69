import type { z } from 'zod';
import { ApiError } from './errors.ts';
import { deepestIssue } from '../support/zod-issue.ts';

/** Validates with a Zod schema; the 400 names the first offending field by its path. */
export function validate<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = deepestIssue(result.error.issues);
  const path = formatPath(issue.path);
  throw new ApiError('invalid_request', path ? `${path}: ${issue.message}` : issue.message);
}

export function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>(
    (out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)),
    '',
  );
}
