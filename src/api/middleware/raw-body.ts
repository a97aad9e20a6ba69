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

export function parseJson(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (!text.trim()) throw new ApiError('invalid_json', 'the request body is empty; expected JSON');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError('invalid_json', `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(limit: number): ApiError {
  return new ApiError('payload_too_large', `the request body exceeds ${limit} bytes`);
}
