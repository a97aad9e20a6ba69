import { z } from 'zod';

/**
 * The process environment, parsed once in the composition root. No other module reads
 * `process.env`: everything it configures is handed down from here.
 */
const EnvSchema = z.object({
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/trackline'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  /**
   * `trackline worker` serves /metrics on this port when set (it has no api to serve them on).
   * Off by default, so a worker next to an api on one host never fights it for a port.
   */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRACKLINE_CONFIG: z.string().default('trackline.toml'),
  /** Key prefix for every Redis key Trackline writes; braces keep all keys in one Cluster slot. */
  TRACKLINE_REDIS_PREFIX: z.string().default('{trackline}'),
});

export type Env = z.infer<typeof EnvSchema>;

export class EnvError extends Error {}

export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new EnvError(`environment: ${issue.path.join('.')}: ${issue.message}`);
  }
  return result.data;
}
