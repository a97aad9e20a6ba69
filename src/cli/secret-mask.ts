import { isSecretKey } from '../support/logger.ts';

/**
 * A secret as `trackline config show` prints it: enough to tell which one is set, never enough to
 * use. A long secret keeps a short prefix up to its first `_` (`plane_`, `ghp_`, `whsec_`: which
 * kind it is) and its last four characters (which one): `plane_…abcd`. A short one shows nothing.
 */
export function maskSecret(secret: string): string {
  if (secret.length < 12) return '…';
  const prefix = /^[A-Za-z]{1,8}_/.exec(secret)?.[0] ?? '';
  return `${prefix}…${secret.slice(-4)}`;
}

/**
 * A copy of a config tree with every value under a credential-named key (the logger's rule:
 * `token`, `tokens`, `api_key`, `api_token`, `secret`, `webhook_secret`, `password`...) masked.
 * Objects under such a key (a scoped token entry) are walked, so their `scopes` stay readable.
 */
export function maskSecrets(value: unknown, secret = false): unknown {
  if (typeof value === 'string') return secret ? maskSecret(value) : value;
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, secret));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, isSecretKey(k))]));
  }
  return value;
}
