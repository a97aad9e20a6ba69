import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { parseConfig, ConfigError } from '../../src/config/load.ts';
import { parseDuration } from '../../src/config/duration.ts';
import { SCOPES, normalizeApiTokens } from '../../src/config/api-tokens.ts';

const base = `
[api]
tokens = ["\${TOKEN}"]

[[connections]]
id = "plane-main"
tracker = "plane"
base_url = "https://api.plane.so"
workspace = "ag"
project = "7a79f0a9-5278-49cd-9007-9a338f238f9c"
api_key = "\${PLANE_API_KEY}"
poll_interval = "5m"
rate_limit = { requests = 60, per = "1m" }

[connections.state_map]
doing = "In Progress"
`;

const env = { TOKEN: 't0k', PLANE_API_KEY: 'plane_api_x' };
const load = (text: string, e: Record<string, string> = env) => parseConfig(parse(text), e);
const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return (error as Error).message;
  }
  throw new Error('expected an error');
};

describe('config', () => {
  it('parses the documented example with defaults and interpolation', () => {
    const config = load(base);
    expect(config.api.tokens).toEqual(['t0k']);
    const c = config.connections[0];
    expect(c.tracker).toBe('plane');
    if (c.tracker !== 'plane') throw new Error('narrow');
    expect(c.api_key).toBe('plane_api_x');
    expect(c.direction).toBe('both');
    expect(c.conflict_strategy).toBe('local-wins');
    expect(c.create_missing).toBe(true);
    expect(c.state_map).toEqual({ doing: 'In Progress' });
  });

  it('names a missing environment variable and where it is used', () => {
    const message = errorOf(() => load(base, { TOKEN: 'x' }));
    expect(message).toBe('config: connections[0].api_key: environment variable PLANE_API_KEY is not set');
  });

  it('names an unknown key with its connection', () => {
    const message = errorOf(() => load(base.replace('poll_interval', 'pol_interval')));
    expect(message).toBe('config: connections[0] (plane-main): unknown key "pol_interval"');
  });

  it('names a wrong type', () => {
    const message = errorOf(() => load(base.replace('requests = 60', 'requests = "sixty"')));
    expect(message).toMatch(/^config: connections\[0\] \(plane-main\)\.rate_limit\.requests: /);
  });

  it('takes a Plane field_map of label prefixes and refuses anything else, naming it', () => {
    const withMap = (map: string) => load(base.replace('poll_interval = "5m"', `poll_interval = "5m"\nfield_map = ${map}`));
    expect((withMap('{ risk = "label:risk-" }').connections[0] as { field_map: unknown }).field_map).toEqual({ risk: 'label:risk-' });
    expect(errorOf(() => withMap('{ risk = "Risk Level" }'))).toContain('expected "label:<prefix>"');
    expect(errorOf(() => withMap('{ priority = "label:p-" }'))).toContain('Plane carries this field itself');
  });

  it('refuses an unknown tracker and a duplicate id', () => {
    expect(errorOf(() => load(base.replace('tracker = "plane"', 'tracker = "trello"')))).toContain('tracker');
    const twice = base + base.slice(base.indexOf('[[connections]]'));
    expect(errorOf(() => load(twice))).toContain('duplicate connection id "plane-main"');
  });

  it('refuses a bad orchestrator secret', () => {
    const text = base + '\n[orchestrator]\ncallback_url = "http://o:8500/t"\nsecret = "plain"\n';
    expect(errorOf(() => load(text))).toMatch(/^config: orchestrator\.secret: expected a Standard Webhooks secret/);
    expect(errorOf(() => load(text))).toBeDefined();
    expect(ConfigError).toBeDefined();
  });

  it('takes scoped token entries beside plain strings (every scope)', () => {
    const text = base.replace(
      'tokens = ["${TOKEN}"]',
      'tokens = ["${TOKEN}", { token = "ro", scopes = ["items:read", "changes:read"] }, { token = "pl", connections = ["plane-main"] }]',
    );
    const tokens = normalizeApiTokens(load(text).api.tokens);
    expect(tokens.map((t) => [t.token, [...t.scopes].sort(), t.connections && [...t.connections]])).toEqual([
      ['t0k', [...SCOPES].sort(), null],
      ['ro', ['changes:read', 'items:read'], null],
      ['pl', [...SCOPES].sort(), ['plane-main']],
    ]);
  });

  it('refuses an unknown scope, an unknown connection and a bad token entry, naming them', () => {
    const withTokens = (entries: string) => base.replace('tokens = ["${TOKEN}"]', `tokens = [${entries}]`);
    expect(errorOf(() => load(withTokens('{ token = "x", scopes = ["items:read", "items:write"] }')))).toBe(
      'config: api.tokens[0].scopes[1]: unknown scope "items:write" (expected one of events:write, items:read, changes:read, deliveries:write, admin, metrics)',
    );
    expect(errorOf(() => load(withTokens('{ token = "x", connections = ["gh-main"] }')))).toBe(
      'config: api.tokens[0].connections[0]: unknown connection "gh-main"',
    );
    expect(errorOf(() => load(withTokens('{ token = "x", scope = ["admin"] }')))).toBe('config: api.tokens[0]: unknown key "scope"');
    expect(errorOf(() => load(withTokens('{ token = "x", scopes = [] }')))).toMatch(/^config: api\.tokens\[0\]\.scopes: /);
    expect(
      errorOf(() =>
        load(
          `${base}\n[metrics]\nrequire_token = true\n`.replace('tokens = ["${TOKEN}"]', 'tokens = [{ token = "x", scopes = ["admin"] }]'),
        ),
      ),
    ).toMatch(/^config: metrics\.require_token: no token can read \/metrics/);
  });

  it('parses durations', () => {
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('5')).toBeNull();
    expect(parseDuration('soon')).toBeNull();
  });
});
