import { describe, expect, it } from 'vitest';
import { maskSecret, maskSecrets } from '../../src/cli/secret-mask.ts';

describe('config show masking', () => {
  it('keeps a kind prefix and the last four characters of a long secret, nothing of a short one', () => {
    expect(maskSecret('plane_api_0123456789abcd')).toBe('plane_…abcd');
    expect(maskSecret('ghp_0123456789abcdefWXYZ')).toBe('ghp_…WXYZ');
    expect(maskSecret('no-prefix-0123456789')).toBe('…6789');
    expect(maskSecret('short')).toBe('…');
  });

  it('masks every value under a credential key, at any depth, and leaves the rest', () => {
    const masked = maskSecrets({
      api: { tokens: ['tl_0123456789abcd', { token: 'reader-0123456789', scopes: ['items:read'], connections: ['plane-main'] }] },
      admin: { username: 'ops', password: 'correct-horse-battery' },
      orchestrator: { callback_url: 'http://o:8500/t', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
      connections: [{ id: 'jira-main', email: 'bot@example.com', api_token: 'ATATT3xFfGF0abcdefgh', webhook_secret: 'x' }],
    }) as Record<string, any>;
    expect(masked.api.tokens).toEqual(['tl_…abcd', { token: '…6789', scopes: ['items:read'], connections: ['plane-main'] }]);
    expect(masked.admin).toEqual({ username: 'ops', password: '…tery' });
    expect(masked.orchestrator).toEqual({ callback_url: 'http://o:8500/t', secret: 'whsec_…LaSw' });
    expect(masked.connections[0]).toEqual({ id: 'jira-main', email: 'bot@example.com', api_token: '…efgh', webhook_secret: '…' });
  });
});
