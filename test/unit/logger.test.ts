import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, isSecretKey } from '../../src/support/logger.ts';

/** A logger at trace writing JSON lines into memory. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger('trace', stream);
  return { log, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const SECRETS = [
  'tok-1111',
  'key-2222',
  'apitok-3333',
  'sec-4444',
  'whsec-5555',
  'pw-6666',
  'Bearer bear-7777',
  'Basic b3BzOnB3',
  'cookie-8888',
  'sig-9999',
  'ghp-aaaa',
  'cfg-bbbb',
];

describe('log redaction', () => {
  it('censors tokens, API keys, secrets, passwords and Authorization headers in any shape a log line takes', () => {
    const { log, lines, records } = capture();
    log.info(
      {
        // Top level, snake and camel case, capitalised.
        token: 'tok-1111',
        api_key: 'key-2222',
        apiToken: 'apitok-3333',
        secret: 'sec-4444',
        requestId: 'req-keep-1',
        // One level down (a connection's config).
        connection: { id: 'plane-main', api_key: 'key-2222', webhook_secret: 'whsec-5555', email: 'bot@example.com' },
        // Headers as fetch and Node give them, and as people write them.
        headers: {
          authorization: 'Bearer bear-7777',
          'X-API-Key': 'key-2222',
          cookie: 'cookie-8888',
          'x-plane-signature': 'sig-9999',
          'content-type': 'application/json',
        },
        req: { headers: { Authorization: 'Basic b3BzOnB3' } },
        // Deep: the whole config, as a careless debug line would log it.
        config: {
          api: { tokens: ['tok-1111'] },
          admin: { username: 'ops', password: 'pw-6666' },
          orchestrator: { callback_url: 'http://orchestrator', secret: 'sec-4444' },
          connections: [{ id: 'gh', token: 'ghp-aaaa', nested: { deeper: { accessToken: 'cfg-bbbb' } } }],
        },
        rateLimit: { 'x-ratelimit-remaining': '59' },
      },
      'everything at once',
    );
    log.child({ connection: 'plane-main', api_key: 'key-2222' }).warn({ password: 'pw-6666' }, 'from a child');

    for (const line of lines) for (const secret of SECRETS) expect(line, secret).not.toContain(secret);
    const [first, second] = records();
    expect(first.token).toBe('[redacted]');
    expect(first.apiToken).toBe('[redacted]');
    expect((first.headers as Record<string, string>).authorization).toBe('[redacted]');
    expect((first.headers as Record<string, string>)['X-API-Key']).toBe('[redacted]');
    expect((first.req as Record<string, Record<string, string>>).headers.Authorization).toBe('[redacted]');
    expect((first.config as { admin: { password: string } }).admin.password).toBe('[redacted]');
    // What is not a credential stays readable.
    expect(first.requestId).toBe('req-keep-1');
    expect(first.msg).toBe('everything at once');
    expect((first.connection as Record<string, string>).email).toBe('bot@example.com');
    expect((first.headers as Record<string, string>)['content-type']).toBe('application/json');
    expect(first.rateLimit).toEqual({ 'x-ratelimit-remaining': '59' });
    expect((first.config as { admin: { username: string } }).admin.username).toBe('ops');
    expect(second).toMatchObject({ connection: 'plane-main', api_key: '[redacted]', password: '[redacted]', msg: 'from a child' });
  });

  it('leaves errors to pino’s serializer and survives cycles', () => {
    const { log, lines, records } = capture();
    const looped: Record<string, unknown> = { name: 'loop', token: 'tok-1111' };
    looped.self = looped;
    log.error({ err: new Error('tracker said no'), looped }, 'failed');
    const [record] = records();
    expect((record.err as { message: string }).message).toBe('tracker said no');
    expect((record.looped as Record<string, unknown>).token).toBe('[redacted]');
    expect(lines.join('\n')).not.toContain('tok-1111');
  });

  it('knows a credential by its key, in any spelling, and nothing else', () => {
    for (const key of [
      'token',
      'tokens',
      'api_key',
      'apiKey',
      'X-API-Key',
      'api_token',
      'accessToken',
      'client_secret',
      'webhook_secret',
      'password',
      'Authorization',
      'proxy-authorization',
      'set-cookie',
      'x-hub-signature-256',
      'webhook-signature',
    ]) {
      expect(isSecretKey(key), key).toBe(true);
    }
    for (const key of [
      'requestId',
      'connection',
      'x-ratelimit-remaining',
      'tokenCount',
      'principal',
      'deliveryId',
      'email',
      'username',
      'path',
    ]) {
      expect(isSecretKey(key), key).toBe(false);
    }
  });
});
