import { readFileSync, existsSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { ConfigSchema, type Config } from './schema.ts';
import { interpolate } from './interpolate.ts';
import { deepestIssue } from '../support/zod-issue.ts';

export class ConfigError extends Error {}

/** Reads, interpolates and validates the config file; every failure is one line naming the key. */
export function loadConfig(path: string, env: Record<string, string | undefined>): Config {
  if (!existsSync(path)) {
    throw new ConfigError(`config: ${path} not found (set TRACKLINE_CONFIG or create trackline.toml; see README "Configuration")`);
  }
  let raw: unknown;
  try {
    raw = parseToml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`config: ${path}: ${(error as Error).message.split('\n')[0]}`);
  }
  return parseConfig(raw, env);
}

export function parseConfig(raw: unknown, env: Record<string, string | undefined>): Config {
  const result = ConfigSchema.safeParse(interpolate(raw, env));
  if (!result.success) throw new ConfigError(describeIssue(deepestIssue(result.error.issues), raw));
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const at = formatPath(issue.path, raw);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    return `config: ${at || '(root)'}: unknown key ${keys}`;
  }
  if (issue.code === 'invalid_union' && issue.path.length === 2 && issue.path[0] === 'connections') {
    return `config: ${at}.tracker: expected one of plane, github, github-project, jira`;
  }
  return `config: ${at || '(root)'}: ${issue.message}`;
}

/** `connections[0]` reads better as `connections[0] (plane-main)`. */
function formatPath(path: PropertyKey[], raw: unknown): string {
  let out = '';
  let node: unknown = raw;
  for (const part of path) {
    if (typeof part === 'number') {
      out += `[${part}]`;
      node = Array.isArray(node) ? node[part] : undefined;
      const id = node && typeof node === 'object' ? (node as { id?: unknown }).id : undefined;
      if (typeof id === 'string') out += ` (${id})`;
    } else {
      out += out ? `.${String(part)}` : String(part);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[String(part)] : undefined;
    }
  }
  return out;
}
