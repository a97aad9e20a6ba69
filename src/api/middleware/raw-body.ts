import { ApiError } from '../errors.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads a request body as raw bytes, refusing more than `limit` before reading it all (by
 * Content-Length, then while streaming, since a sender may lie or omit the header). Webhook
 * signatures are checked over exactly these bytes, so nothing re-serializes them first.
 */
export async function readRawBody(request: Request, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  // With a declared length within the limit, Node's parser delivers exactly that many bytes, so the
  // body can be read in one go: @hono/node-server then reads it straight from the socket instead
  // of building a web ReadableStream, which cost the webhook intake about a sixth of its CPU
  // (bench/intake.ts profile).
  if (request.headers.get('content-length') !== null && Number.isFinite(declared)) return Buffer.from(await request.arrayBuffer());
  if (!request.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/** Deeper than any tracker payload or event nests; far below what Postgres' jsonb parser survives. */
export const MAX_JSON_DEPTH = 128;

// ignoreBOM keeps a leading BOM in the text, so JSON.parse refuses it as it always did.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function parseJson(raw: Buffer): unknown {
  return parseJsonText(raw).value;
}

/** parseJson that also hands back the decoded text (the webhook intake stores it as received). */
export function parseJsonText(raw: Buffer): { value: unknown; text: string } {
  let text: string;
  try {
    // Fatal decoding: invalid UTF-8 is refused rather than turned into U+FFFD and stored.
    text = utf8.decode(raw);
  } catch {
    throw new ApiError('invalid_json', 'the request body is not valid UTF-8');
  }
  if (!text.trim()) throw new ApiError('invalid_json', 'the request body is empty; expected JSON');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError('invalid_json', `the request body is not valid JSON: ${(error as Error).message}`);
  }
  const problem = mayBeUnstorable(raw, text) ? unstorable(value) : null;
  if (problem) throw new ApiError('invalid_json', `the request body ${problem}`);
  return { value, text };
}

/** A `\u` escape of U+0000 or of a surrogate half: the only way such text gets into a string. */
const RISKY_ESCAPE = /\\u(0000|[dD][89a-fA-F])/;
/**
 * A number (a value after ":", "," or "[") with an exponent of three digits or 200 digits in a row:
 * every number JSON.parse makes infinite has one (with an exponent under 100 it needs over 200
 * digits before the point). Anchored on the value position because uuids and timestamps inside
 * strings ("…3e027…") would otherwise match nearly every tracker payload. Written so that no
 * part can match the same digits two ways: a megabyte of digits costs one linear pass.
 */
const RISKY_NUMBER = /[:,[]\s*-?(?:(?:\d+(?:\.\d*)?|\.\d+)[eE]\+?\d{3}|\d{200})/;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/**
 * A cheap look at the text that rules out everything `unstorable` looks for, so the walk runs only
 * for the rare body that might fail it (the walk was a sixth of the webhook route's own CPU):
 * valid UTF-8 cannot encode a surrogate, so unstorable text needs one of the escapes above; a
 * number JSON.parse turns into Infinity needs a big exponent or 200 digits in a row; and nesting
 * deeper than MAX_JSON_DEPTH needs at least that many opening brackets.
 */
function mayBeUnstorable(raw: Buffer, text: string): boolean {
  if (RISKY_ESCAPE.test(text) || RISKY_NUMBER.test(text)) return true;
  // Counted with Buffer.indexOf (native) rather than a loop over every byte: 0.16 us against 1.4 us
  // for a 1.3 kB Plane body.
  let opens = 0;
  for (const open of [OPEN_BRACE, OPEN_BRACKET]) {
    for (let i = raw.indexOf(open); i !== -1; i = raw.indexOf(open, i + 1)) if (++opens >= MAX_JSON_DEPTH) return true;
  }
  return false;
}

/** U+0000 and unpaired surrogates: JSON.parse takes them from \u escapes, Postgres stores neither. */
const UNSTORABLE_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * JSON that parses but cannot be kept as sent: text Postgres' jsonb refuses, nesting deep enough
 * to exhaust its stack, a number JSON.parse turned into Infinity (stored as null). Each used to
 * end in a 500 or a silently changed value (found by the fault suite's fuzzing); now it is a 400
 * that says where. Walked with an explicit stack, so nesting cannot exhaust this one.
 */
function unstorable(root: unknown): string | null {
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value: root, path: '$', depth: 0 }];
  while (pending.length) {
    const { value, path, depth } = pending.pop()!;
    if (typeof value === 'string') {
      if (UNSTORABLE_TEXT.test(value)) return `has \\u0000 or an unpaired surrogate in a string at ${shown(path)}`;
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return `has a number too large to represent at ${shown(path)}`;
    } else if (value !== null && typeof value === 'object') {
      if (depth >= MAX_JSON_DEPTH) return `nests deeper than ${MAX_JSON_DEPTH} levels at ${shown(path)}`;
      for (const [key, child] of Object.entries(value)) {
        if (UNSTORABLE_TEXT.test(key)) return `has \\u0000 or an unpaired surrogate in a key at ${shown(path)}`;
        pending.push({ value: child, path: Array.isArray(value) ? `${path}[${key}]` : `${path}.${key.slice(0, 50)}`, depth: depth + 1 });
      }
    }
  }
  return null;
}

const shown = (path: string) => (path.length > 120 ? `${path.slice(0, 120)}…` : path);

function tooLarge(limit: number): ApiError {
  return new ApiError('payload_too_large', `the request body exceeds ${limit} bytes`);
}
