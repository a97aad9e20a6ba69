import { describe, expect, it } from 'vitest';
import { isRetryableStorageError, isStorageUnavailable } from '../../src/support/storage-errors.ts';

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe('storage errors', () => {
  it.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EPIPE',
    'CONNECT_TIMEOUT',
    'CONNECTION_CLOSED',
    'CONNECTION_DESTROYED',
    'CONNECTION_ENDED',
    '57P01',
    '57P03',
    '08006',
    '53300',
    '53200',
  ])('%s: unavailable, so a 503 from the api and a retry for a job', (code) => {
    expect(isStorageUnavailable(withCode(code))).toBe(true);
    expect(isRetryableStorageError(withCode(code))).toBe(true);
  });

  it('ioredis closed-stream messages are unavailable', () => {
    expect(isStorageUnavailable(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe(true);
    expect(isStorageUnavailable(new Error('Connection is closed.'))).toBe(true);
  });

  it('a serialization failure or deadlock is retried by jobs but is not an outage', () => {
    for (const code of ['40001', '40P01']) {
      expect(isRetryableStorageError(withCode(code))).toBe(true);
      expect(isStorageUnavailable(withCode(code))).toBe(false);
    }
  });

  it('a statement cancelled by the statement timeout (57014) is retried by jobs but is not an outage', () => {
    expect(isRetryableStorageError(withCode('57014'))).toBe(true);
    expect(isStorageUnavailable(withCode('57014'))).toBe(false);
  });

  it('constraint violations, bad input and programming errors are neither', () => {
    for (const error of [withCode('23505'), withCode('22P02'), new TypeError('x is undefined'), null, 'text']) {
      expect(isStorageUnavailable(error)).toBe(false);
      expect(isRetryableStorageError(error)).toBe(false);
    }
  });
});
