import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TOKEN, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { EventsBody } from '../../src/intake/event-schema.ts';
import { MAX_BODY_BYTES } from '../../src/api/middleware/raw-body.ts';
import { sendRaw, type RawRequest } from './support/raw-http.ts';
import { LOCAL_STATES } from './support/fault-helpers.ts';

/**
 * DESIGN 5.7: bad input gets a clear 4xx and changes nothing. 5,000 generated malformed requests
 * to POST /v1/events and POST /webhooks/{id}, written byte for byte on raw sockets: broken and
 * truncated JSON, invalid UTF-8, unstorable escapes, huge numbers, deep nesting, prototype keys,
 * wrong or missing credentials and signatures, wrong content types, oversized and lying bodies,
 * malformed HTTP. None may answer 5xx or hang, the api must stay up, and nothing may be written
 * (webhooks refused on a known connection leave a 'rejected' delivery row, by design).
 */
const RUNS = Number(process.env.FAULTS_FUZZ_RUNS ?? 5_000);
const SECRET = 'plane_wh_fuzz_secret';
const POLLUTION = '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},';

let h: Harness;
let port: number;

beforeAll(async () => {
  h = await startHarness('faults_fuzz', { workers: false, plane: { webhook_secret: SECRET } });
  port = Number(new URL(await h.listenApi()).port);
  // Something for a malformed request to damage, were it to get through.
  const res = await h.postEvents({
    events: [{ type: 'item.upserted', item: { key: 'fuzz/existing', title: 'before', state: 'planned', fields: { n: 1 } } }],
  });
  expect(res.status).toBe(202);
});
afterAll(async () => h?.close());

async function snapshot() {
  const [counts] = await h.sql`select
      (select count(*)::int from items) as items, (select count(*)::int from mappings) as mappings,
      (select count(*)::int from activity) as activity, (select count(*)::int from comments) as comments,
      (select count(*)::int from changes) as changes, (select count(*)::int from conflicts) as conflicts,
      (select count(*)::int from idempotency_keys) as idempotency_keys,
      (select count(*)::int from deliveries where not (direction = 'in' and kind = 'webhook' and status = 'rejected')) as deliveries`;
  const items = await h.sql`select key, version, desired::text, custom::text, deleted_at from items order by key`;
  return { counts, items };
}

// ------------------------------------------------------------------------------- generators

/** A case: the request, and the statuses a correct api answers it with. */
interface Case {
  label: string;
  request: RawRequest;
  expect: number[];
  /** Malformed HTTP may be refused by Node's parser with a bare close instead of a status. */
  mayClose?: boolean;
}

const auth: [string, string] = ['Authorization', `Bearer ${API_TOKEN}`];
const json: [string, string] = ['Content-Type', 'application/json'];

const validItem = fc.record(
  {
    key: fc.stringMatching(/^fuzz\/[a-z0-9]{1,12}$/),
    title: fc.string({ maxLength: 30 }),
    state: fc.constantFrom(...LOCAL_STATES),
    labels: fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }),
    fields: fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.oneof(fc.integer(), fc.string({ maxLength: 10 })), { maxKeys: 2 }),
  },
  { requiredKeys: ['key'] },
);
const validEvent = validItem.map((item) => ({ type: 'item.upserted', item }));
/** A body the api would accept: the malformed cases are built by breaking one. */
const validBody = fc.oneof(
  validEvent,
  fc.array(validEvent, { minLength: 1, maxLength: 3 }).map((events) => ({ events })),
);
const validText = validBody.map((b) => JSON.stringify(b));

const invalidUtf8 = fc.constantFrom(
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0xaf], // overlong "/"
  [0xed, 0xa0, 0x80], // an encoded surrogate
  [0x80], // a lone continuation byte
  [0xe2, 0x82], // truncated sequence
  [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
);

/** Valid JSON text of an event whose item title is replaced by `raw` (bytes, unescaped). */
const withTitleBytes = (raw: Buffer) =>
  validEvent.map((e) => {
    const [before, after] = JSON.stringify({ ...e, item: { ...e.item, title: '@@T@@' } }).split('@@T@@');
    return Buffer.concat([Buffer.from(before!), raw, Buffer.from(after!)]);
  });

/** JSON texts that no correct parser accepts, or that parse into something unstorable. */
const brokenJson: fc.Arbitrary<Buffer> = fc.oneof(
  // Truncated: every strict prefix of an object is invalid.
  fc.tuple(validText, fc.nat()).map(([t, n]) => Buffer.from(t.slice(0, n % t.length))),
  fc
    .tuple(
      validText,
      fc.string({ minLength: 1, maxLength: 5 }).filter((s) => s.trim() !== ''),
    )
    .map(([t, junk]) => Buffer.from(t + junk)),
  fc
    .uint8Array({ minLength: 1, maxLength: 200 })
    .map((b) => Buffer.from(b))
    .filter((b) => !isJson(b)),
  invalidUtf8.chain((bytes) => withTitleBytes(Buffer.from(bytes))),
  // Escapes Postgres cannot store: NUL and unpaired surrogates, in values and in keys.
  fc.constantFrom('\\u0000', 'a\\u0000b', '\\ud800', '\\udfff', 'x\\ud83d', '\\ude00y').chain((esc) => withTitleBytes(Buffer.from(esc))),
  fc
    .constantFrom('\\u0000', '\\ud800')
    .chain((esc) =>
      validEvent.map((e) => Buffer.from(JSON.stringify({ ...e, item: { ...e.item, fields: { '@@K@@': 1 } } }).replace('@@K@@', esc))),
    ),
  // Numbers beyond a double: JSON.parse would make them Infinity.
  fc
    .constantFrom('1e400', '-1e999', '123e456789')
    .chain((n) =>
      validEvent.map((e) => Buffer.from(JSON.stringify({ ...e, item: { ...e.item, fields: { n: '@@N@@' } } }).replace('"@@N@@"', n))),
    ),
  // Nesting far deeper than any real payload, up to what fits in 1 MiB.
  fc.tuple(fc.integer({ min: 129, max: 150_000 }), fc.boolean()).chain(([depth, arrays]) =>
    validEvent.map((e) => {
      const deep = arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      return Buffer.from(JSON.stringify({ ...e, item: { ...e.item, fields: { deep: '@@D@@' } } }).replace('"@@D@@"', deep));
    }),
  ),
  // (Valid JSON of the wrong shape, like null or [], is not here: a signed webhook may carry it.)
  fc
    .constantFrom('', ' ', '\n\t', 'NaN', "{'type':'item.upserted'}", '{"type":"item.upserted",}', '\ufeff{}', '[1,]')
    .map((t) => Buffer.from(t)),
);

/** Parseable JSON that breaks the event contract in one place. */
const wrongShape: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue().filter((v) => !EventsBody.safeParse(v).success),
  validEvent.chain((e) =>
    fc
      .constantFrom<(e: { type: string; item: Record<string, unknown> }) => unknown>(
        (e) => ({ ...e, type: 'item.updated' }),
        (e) => ({ ...e, type: undefined }),
        (e) => ({ ...e, item: { ...e.item, key: '' } }),
        (e) => ({ ...e, item: { ...e.item, key: ' padded' } }),
        (e) => ({ ...e, item: { ...e.item, key: 'has space' } }),
        (e) => ({ ...e, item: { ...e.item, key: 'k'.repeat(256) } }),
        (e) => ({ ...e, item: { ...e.item, key: 42 } }),
        (e) => ({ ...e, item: { ...e.item, key: null } }),
        (e) => ({ ...e, item: { ...e.item, labels: 'a' } }),
        (e) => ({ ...e, item: { ...e.item, labels: [1, 2] } }),
        (e) => ({ ...e, item: { ...e.item, labels: Array.from({ length: 101 }, (_, i) => `l${i}`) } }),
        (e) => ({ ...e, item: { ...e.item, title: 't'.repeat(1001) } }),
        (e) => ({ ...e, item: { ...e.item, state: '' } }),
        (e) => ({ ...e, item: { ...e.item, fields: [1, 2] } }),
        // A link to a connection that does not exist: refused inside the transaction, after the
        // item rows were created, so this also proves the rollback.
        (e) => ({ ...e, item: { ...e.item, links: { nope: 'ET-1' } } }),
        (e) => ({ ...e, item: { ...e.item, links: { 'plane-main': 0 } } }),
        (e) => ({ ...e, item: { ...e.item, links: { 'plane-main': -3 } } }),
        (e) => ({ ...e, item: { ...e.item, links: { 'plane-main': 1.5 } } }),
        (e) => ({ ...e, item: { ...e.item, links: { 'plane-main': '' } } }),
        (e) => ({ type: 'item.comment', key: e.item.key }),
        (e) => ({ type: 'item.comment', comment: 'no key' }),
        (e) => ({ type: 'item.deleted' }),
        (e) => ({ events: [] }),
        (e) => ({ events: Array.from({ length: 501 }, () => e) }),
        (e) => ({ events: [e, { type: 'item.upserted' }] }),
        (e) => ({ events: [e, { ...e, item: { ...e.item, links: { nope: 'x' } } }] }),
        (e) => ({ events: e }),
      )
      .map((mutate) => mutate(e as never)),
  ),
);

// Oversized: sent in full, announced but not sent, or with no length at all. The api answers
// 413 and closes while the client may still be writing, so the answer can be lost to a reset.
const oversizedEvents = fc.constantFrom<Case>(
  {
    label: 'oversized',
    request: {
      method: 'POST',
      path: '/v1/events',
      headers: [auth, json],
      body: Buffer.from(`{"type":"item.upserted","item":{"key":"fuzz/big","title":"${'x'.repeat(MAX_BODY_BYTES)}"}}`),
    },
    expect: [413],
    mayClose: true,
  },
  {
    label: 'announced oversize',
    request: {
      method: 'POST',
      path: '/v1/events',
      headers: [auth, json],
      body: Buffer.from('{}'),
      contentLength: MAX_BODY_BYTES * 4,
      halfClose: true,
    },
    expect: [413],
    mayClose: true,
  },
  {
    label: 'chunked oversize',
    request: {
      method: 'POST',
      path: '/v1/events',
      headers: [auth, json, ['Transfer-Encoding', 'chunked']],
      contentLength: 'none',
      body: chunked(Buffer.alloc(MAX_BODY_BYTES + 10, 'x')),
    },
    expect: [413],
    mayClose: true,
  },
);

const eventsCase: fc.Arbitrary<Case> = fc.oneof(
  // Missing or wrong credentials, with a body that would otherwise be accepted.
  fc
    .tuple(
      validText,
      fc.oneof(
        fc.constant(null),
        fc.constantFrom(
          '',
          'Bearer',
          'Bearer ',
          `Bearer ${API_TOKEN}x`,
          `Bearer ${API_TOKEN.slice(1)}`,
          'Basic dGVzdDp0ZXN0',
          `Token ${API_TOKEN}`,
          `Bearer ${API_TOKEN} extra`,
          'Bearer \u00ff\u00fe',
        ),
        fc.string({ maxLength: 60 }).filter((s) => !/[\r\n]/.test(s)),
      ),
    )
    .map(
      ([body, header]): Case => ({
        label: `auth ${JSON.stringify(header)}`,
        request: {
          method: 'POST',
          path: '/v1/events',
          headers: header === null ? [json] : [['Authorization', header], json],
          body: Buffer.from(body),
        },
        // Control characters in a header value are refused by Node's parser (400) before Trackline.
        expect: header !== null && /[^\t\x20-\x7e\x80-\xff]/.test(header) ? [400, 401] : [401],
        mayClose: header !== null && /[^\t\x20-\x7e\x80-\xff]/.test(header),
      }),
    ),
  brokenJson.map(
    (body): Case => ({ label: 'broken json', request: { method: 'POST', path: '/v1/events', headers: [auth, json], body }, expect: [400] }),
  ),
  fc.tuple(wrongShape, fc.boolean()).map(([value, pollute]): Case => {
    let text = JSON.stringify(value) ?? 'null';
    // Prototype keys ride along on a request that is invalid anyway.
    if (pollute && text.startsWith('{')) text = POLLUTION + text.slice(1).replace(/^}$/, '"x":1}');
    return {
      label: 'wrong shape',
      request: { method: 'POST', path: '/v1/events', headers: [auth, json], body: Buffer.from(text) },
      expect: [400],
    };
  }),
  fc
    .tuple(
      validText,
      fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/jsonx',
        'json',
        'text/json',
        '*/*',
        'application/json-seq',
        '\u00ff',
      ),
    )
    .map(
      ([body, type]): Case => ({
        label: `content-type ${type}`,
        request: { method: 'POST', path: '/v1/events', headers: [auth, ['Content-Type', type]], body: Buffer.from(body) },
        expect: [415],
      }),
    ),
  fc.tuple(validText, fc.constantFrom('', ' ', 'has space', 'k'.repeat(256), '\u00e9t\u00e9', 'tab\there')).map(
    ([body, key]): Case => ({
      label: `idempotency-key ${JSON.stringify(key)}`,
      request: { method: 'POST', path: '/v1/events', headers: [auth, json, ['Idempotency-Key', key]], body: Buffer.from(body) },
      expect: [400],
    }),
  ),
  // Malformed HTTP around an otherwise fine request: Node's parser refuses it before Trackline.
  validText.chain((body) =>
    fc.constantFrom<Case>(
      {
        label: 'short body, client gone',
        request: {
          method: 'POST',
          path: '/v1/events',
          headers: [auth, json],
          body: Buffer.from(body.slice(0, body.length >> 1)),
          contentLength: body.length,
          halfClose: true,
        },
        expect: [400],
        mayClose: true,
      },
      {
        label: 'bad chunk size',
        request: {
          method: 'POST',
          path: '/v1/events',
          headers: [auth, json, ['Transfer-Encoding', 'chunked']],
          contentLength: 'none',
          body: Buffer.from(`zz\r\n${body}\r\n0\r\n\r\n`),
        },
        expect: [400],
        mayClose: true,
      },
      {
        label: 'length and chunked',
        request: { method: 'POST', path: '/v1/events', headers: [auth, json, ['Transfer-Encoding', 'chunked']], body: Buffer.from(body) },
        expect: [400],
        mayClose: true,
      },
      {
        label: 'huge header',
        request: { method: 'POST', path: '/v1/events', headers: [auth, json, ['X-Pad', 'p'.repeat(70_000)]], body: Buffer.from(body) },
        expect: [431],
        mayClose: true,
      },
      {
        label: 'header with CTL',
        request: {
          method: 'POST',
          path: '/v1/events',
          headers: [auth, json, ['X-Bad', Buffer.from([0x01, 0x7f])]],
          body: Buffer.from(body),
        },
        expect: [400],
        mayClose: true,
      },
    ),
  ),
  fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE').map(
    (method): Case => ({
      label: `${method} events`,
      request: { method, path: '/v1/events', headers: [auth], body: Buffer.alloc(0) },
      expect: [404, 405],
    }),
  ),
);

const sign = (body: Buffer) => createHmac('sha256', SECRET).update(body).digest('hex');

const webhookCase: fc.Arbitrary<Case> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        fc.stringMatching(/^[A-Za-z0-9%._~-]{1,40}$/).filter((s) => s !== 'plane-main'),
        validText,
      )
      .map(
        ([id, body]): Case => ({
          label: 'unknown connection',
          request: {
            method: 'POST',
            path: `/webhooks/${id}`,
            headers: [json, ['X-Plane-Signature', sign(Buffer.from(body))]],
            body: Buffer.from(body),
          },
          expect: [404],
        }),
      ),
  },
  // Unsigned or wrongly signed: refused, recorded as rejected, never parsed.
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        fc.oneof(
          validText.map((t) => Buffer.from(t)),
          brokenJson,
        ),
        fc.oneof(
          fc.constant(null),
          fc.constantFrom('', 'abc', 'g'.repeat(64), 'A'.repeat(64), `sha256=${'a'.repeat(64)}`, 'a'.repeat(63), 'a'.repeat(65)),
          fc.stringMatching(/^[0-9a-f]{64}$/),
        ),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
      )
      .map(
        ([body, signature, type]): Case => ({
          label: `signature ${JSON.stringify(signature)}`,
          request: {
            method: 'POST',
            path: '/webhooks/plane-main',
            headers: [['Content-Type', type], ...(signature === null ? [] : [['X-Plane-Signature', signature] as [string, string]])],
            body,
          },
          expect: [401],
        }),
      ),
  },
  // Signed with the right secret, but over a different body than the one sent.
  {
    weight: 5,
    arbitrary: fc
      .tuple(validText, validText)
      .filter(([a, b]) => a !== b)
      .map(
        ([signed, sent]): Case => ({
          label: 'signature of another body',
          request: {
            method: 'POST',
            path: '/webhooks/plane-main',
            headers: [json, ['X-Plane-Signature', sign(Buffer.from(signed))]],
            body: Buffer.from(sent),
          },
          expect: [401],
        }),
      ),
  },
  // Correctly signed, but not JSON Trackline can read or store.
  {
    weight: 5,
    arbitrary: brokenJson.map(
      (body): Case => ({
        label: 'signed broken json',
        request: { method: 'POST', path: '/webhooks/plane-main', headers: [json, ['X-Plane-Signature', sign(body)]], body },
        expect: [400],
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constant<Case>({
      label: 'signed oversize',
      request: {
        method: 'POST',
        path: '/webhooks/plane-main',
        headers: [json, ['X-Plane-Signature', 'a'.repeat(64)]],
        body: Buffer.alloc(MAX_BODY_BYTES + 1, 'x'),
      },
      expect: [413],
      mayClose: true,
    }),
  },
);

// Big bodies are rare among the cases (each costs a megabyte); the rest are spread evenly.
const anyCase = fc.oneof(
  { arbitrary: eventsCase, weight: 30 },
  { arbitrary: oversizedEvents, weight: 1 },
  { arbitrary: webhookCase, weight: 20 },
);

function isJson(b: Buffer): boolean {
  try {
    JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
    return true;
  } catch {
    return false;
  }
}

function chunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += 64 * 1024) {
    const chunk = body.subarray(i, i + 64 * 1024);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------------------------ the test

describe(`${RUNS} malformed requests`, () => {
  it('get a 4xx (never a 5xx, never a hang), the api stays up, and nothing is written', async () => {
    const before = await snapshot();
    const [rejectedBefore] = await h.sql<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'rejected'`;
    const tally = new Map<string, number>();
    let refusedAtKnownWebhook = 0;
    let unansweredAtKnownWebhook = 0;

    await fc.assert(
      fc.asyncProperty(anyCase, async (c) => {
        const answer = await sendRaw(port, c.request, 10_000);
        const seen = `${c.label.split(' ')[0]} ${answer.status ?? 'closed'}`;
        tally.set(seen, (tally.get(seen) ?? 0) + 1);
        if (answer.timedOut) throw new Error(`${c.label}: no answer within 10 s`);
        if (answer.status === null) {
          if (!c.mayClose) throw new Error(`${c.label}: connection closed without an answer`);
          if (c.request.path === '/webhooks/plane-main') unansweredAtKnownWebhook++;
          return;
        }
        if (answer.status >= 500) throw new Error(`${c.label}: ${answer.status} ${answer.body.slice(0, 300)}`);
        if (!c.expect.includes(answer.status))
          throw new Error(`${c.label}: expected ${c.expect.join('/')}, got ${answer.status} ${answer.body.slice(0, 300)}`);
        // A clear 4xx: Trackline's own answers carry the JSON error with a code and a message.
        if (!c.mayClose || answer.body.startsWith('{'))
          expect(JSON.parse(answer.body)).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
        if (c.request.path === '/webhooks/plane-main' && [400, 401, 413].includes(answer.status)) refusedAtKnownWebhook++;
      }),
      { numRuns: RUNS, ...(process.env.FAULTS_SEED ? { seed: Number(process.env.FAULTS_SEED) } : {}) },
    );
    console.log(`[fuzz] answers by case kind: ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);

    // Still up, and still serving real requests.
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    // Nothing written: same rows, same items, same values.
    expect(await snapshot()).toEqual(before);
    // Every refusal at a known webhook endpoint is on record (one whose answer a reset swallowed
    // may be too), and nothing else was added.
    const [rejectedAfter] = await h.sql<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'rejected'`;
    expect(rejectedAfter.n - rejectedBefore.n).toBeGreaterThanOrEqual(refusedAtKnownWebhook);
    expect(rejectedAfter.n - rejectedBefore.n).toBeLessThanOrEqual(refusedAtKnownWebhook + unansweredAtKnownWebhook);
    const leaked = await h.sql`select request from deliveries where status = 'rejected' and request::text like '%"payload"%' limit 1`;
    expect(leaked).toEqual([]);
    // No prototype was polluted in the api's process (the api runs in this one).
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    // And a well-formed request is still accepted afterwards.
    const ok = await h.postEvents({ type: 'item.upserted', item: { key: 'fuzz/after', title: 'still works' } });
    expect(ok.status).toBe(202);
    await waitFor(() => h.sql`select 1 from items where key = 'fuzz/after'`.then((r) => r.length > 0));
  }, 300_000);
});
