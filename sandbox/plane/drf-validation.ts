// Django REST framework's validation messages, as Plane's serializers answer bad input.

import { PlaneApiError, PlaneComment, isUuid } from './model.ts';

/**
 * DRF PrimaryKeyRelatedField errors. A string that is not a UUID fails in Django's UUIDField with
 * its curly-quoted message; a UUID that matches nothing gives DRF's "Invalid pk".
 */
export function pkError(value: unknown, exists: (id: string) => boolean): string | null {
  if (typeof value === 'boolean' || (typeof value !== 'string' && typeof value !== 'number')) {
    return `Incorrect type. Expected pk value, received ${pyTypeName(value)}.`;
  }
  const s = String(value);
  if (!isUuid(s)) return `“${s}” is not a valid UUID.`;
  return exists(s.toLowerCase()) ? null : `Invalid pk "${s}" - object does not exist.`;
}

export function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return 'dict';
}

export function requiredString(input: Record<string, unknown>, key: string, errors: Record<string, string[]>): string | undefined {
  const v = input[key];
  if (v === undefined) errors[key] = ['This field is required.'];
  else if (v === null) errors[key] = ['This field may not be null.'];
  else if (typeof v !== 'string') errors[key] = ['Not a valid string.'];
  else if (v.trim() === '') errors[key] = ['This field may not be blank.'];
  else return v;
  return undefined;
}

export function validateCommentFields(input: Record<string, unknown>): Partial<PlaneComment> {
  const errors: Record<string, string[]> = {};
  const out: Partial<PlaneComment> = {};
  if ('comment_html' in input) {
    if (typeof input.comment_html !== 'string') errors.comment_html = ['Not a valid string.'];
    else out.comment_html = input.comment_html;
  }
  if ('access' in input) {
    if (input.access !== 'INTERNAL' && input.access !== 'EXTERNAL') errors.access = [`"${String(input.access)}" is not a valid choice.`];
    else out.access = input.access;
  }
  for (const key of ['external_id', 'external_source'] as const) {
    if (!(key in input)) continue;
    const v = input[key];
    if (v === null) out[key] = null;
    else if (typeof v !== 'string' && typeof v !== 'number') errors[key] = ['Not a valid string.'];
    else out[key] = String(v);
  }
  if (Object.keys(errors).length > 0) throw new PlaneApiError(400, errors);
  return out;
}
