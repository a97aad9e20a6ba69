/** The one API error type: a machine code mapped to a status in one exhaustive switch. */
export type ApiErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'invalid_json'
  | 'invalid_request'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'conflict'
  | 'idempotency_key_reused'
  | 'unavailable'
  | 'internal';

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function statusFor(code: ApiErrorCode): 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 500 | 503 {
  switch (code) {
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'invalid_json':
    case 'invalid_request':
      return 400;
    case 'payload_too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'conflict':
      return 409;
    case 'idempotency_key_reused':
      return 422;
    case 'unavailable':
      return 503;
    case 'internal':
      return 500;
    default: {
      const unhandled: never = code;
      return unhandled;
    }
  }
}
