/**
 * Replaces `${NAME}` in every string of a parsed config tree from the environment.
 * A missing variable is an error naming both the variable and where it was used, because a
 * silently empty API key only fails much later, at the first tracker call.
 */
export class MissingVariableError extends Error {
  constructor(
    readonly variable: string,
    readonly at: string,
  ) {
    super(`config: ${at}: environment variable ${variable} is not set`);
  }
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function interpolate(value: unknown, env: Record<string, string | undefined>, at = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (_, name: string) => {
      const found = env[name];
      if (found === undefined) throw new MissingVariableError(name, at || '(root)');
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${at}[${i}]`));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, at ? `${at}.${k}` : k)]));
  }
  return value;
}
