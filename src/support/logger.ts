import { pino, type Logger } from 'pino';

/**
 * pino JSON logs. Anything that can hold a credential is redacted by path, wherever it appears:
 * tokens, API keys, secrets, passwords and Authorization headers.
 */
export const REDACT_PATHS = [
  'token', '*.token', 'api_key', '*.api_key', 'api_token', '*.api_token', 'secret', '*.secret',
  'webhook_secret', '*.webhook_secret', 'password', '*.password', 'authorization', '*.authorization',
  'headers.authorization', 'headers["x-api-key"]', 'req.headers.authorization', 'req.headers["x-api-key"]',
  '*.headers.authorization', '*.headers["x-api-key"]', 'config.connections[*].api_key', 'config.connections[*].token',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { service: 'trackline' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    destination as never,
  );
}
