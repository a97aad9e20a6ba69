import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('unstorable_input', { workers: false });
});
afterAll(async () => h?.close());

const post = (body: string | Buffer, type = 'application/json') =>
  h.app.request('/v1/events', { method: 'POST', headers: { authorization: 'Bearer test-token-0123456789', 'content-type': type }, body });
const event = (item: string) => `{"type":"item.upserted","item":{"key":"u/1",${item}}}`;

/**
 * Found by the fault suite's fuzzing (test/faults/bad-input.test.ts). Each of these used to be a
 * 500 (Postgres refused the value mid-transaction) or was accepted and stored altered; now each
 * is a 400 or 415 naming the problem, and nothing is written.
 */
describe('input that parses but cannot be stored as sent', () => {
  it.each([
    ['an unpaired surrogate', event('"title":"a\\ud800b"'), /unpaired surrogate/],
    ['a NUL character', event('"title":"a\\u0000b"'), /u0000/],
    ['a NUL in a custom field name', event('"fields":{"a\\u0000":1}'), /u0000/],
    ['nesting 10,000 deep', event(`"fields":{"d":${'['.repeat(10_000)}${']'.repeat(10_000)}}`), /nests deeper/],
    ['a number beyond a double', event('"fields":{"n":1e400}'), /too large/],
    // The cheap look before the walk must not miss these: upper-case escapes, a huge number with a
    // small exponent, nesting just past the limit.
    ['an unpaired surrogate escaped in upper case', event('"title":"a\\uDBFFb"'), /unpaired surrogate/],
    ['a 250-digit number with a two-digit exponent', event(`"fields":{"n":1${'0'.repeat(250)}e99}`), /too large/],
    ['nesting just past the limit', event(`"fields":{"d":${'['.repeat(130)}${']'.repeat(130)}}`), /nests deeper/],
    ['invalid UTF-8', Buffer.concat([Buffer.from(event('"title":"a')), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]), /UTF-8/],
  ])('%s: 400, nothing written', async (_, body, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    expect(await h.sql`select 1 from items where key = 'u/1'`).toEqual([]);
  });

  it('a paired surrogate escape (an emoji) and big but finite numbers are stored as sent', async () => {
    const res = await post(
      '{"type":"item.upserted","item":{"key":"u/emoji","title":"ok \\ud83d\\ude00","fields":{"n":1e300,"m":12345678901234567890}}}',
    );
    expect(res.status).toBe(202);
    const [row] = await h.sql<
      { desired: { title: string }; custom: Record<string, unknown> }[]
    >`select desired, custom from items where key = 'u/emoji'`;
    expect(row.desired.title).toBe('ok \u{1F600}');
    expect(row.custom).toEqual({ n: 1e300, m: 12345678901234567890 });
  });

  it('a body declared as something other than JSON: 415', async () => {
    const res = await post(event('"title":"x"'), 'text/plain');
    expect(res.status).toBe(415);
    expect(await h.sql`select 1 from items where key = 'u/1'`).toEqual([]);
    expect((await post(event('"title":"x"'), 'application/json; charset=utf-8')).status).toBe(202);
  });

  it('custom fields named like Object.prototype members are stored as fields (was a 500)', async () => {
    // (Values are text, numbers, null or lists of text since custom fields sync; an object is a 400.)
    const res = await post(
      `{"type":"item.upserted","item":{"key":"u/proto","fields":{"constructor":"c","toString":"t","hasOwnProperty":3}}}`,
    );
    expect(res.status).toBe(202);
    const [row] = await h.sql<{ custom: Record<string, unknown> }[]>`select custom from items where key = 'u/proto'`;
    expect(row.custom).toEqual({ constructor: 'c', toString: 't', hasOwnProperty: 3 });
    // An object value is not a field value; "__proto__" would vanish in parsing: both a 400, nothing stored.
    for (const fields of ['{"constructor":{"prototype":{"x":1}}}', '{"__proto__":["x"],"risk":"high"}']) {
      const refused = await post(`{"type":"item.upserted","item":{"key":"u/proto2","fields":${fields}}}`);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toMatch(/constructor|__proto__/);
    }
    expect(await h.sql`select 1 from items where key = 'u/proto2'`).toHaveLength(0);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
