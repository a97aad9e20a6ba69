import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JIRA, startHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * Exactly-once create on Jira, whose search (the only way to find an issue by its marker) lags
 * writes. The sandbox Jira is given a search lag here (an issue younger than it is not found by
 * search/jql), as Atlassian documents for Jira Cloud; the adapter's own wait is 10 s.
 */

let h: Harness;
beforeAll(async () => {
  // A create whose answer is held back longer than request_timeout is a create whose answer was lost.
  h = await startHarness('jira_create_once', { plane: false, jira: {}, config: { worker: { request_timeout: '2s', backoff: '200ms' } } });
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.sandbox.faults.clear();
  h.sandbox.jira.searchLagMs = 4_000;
});

const issuesFor = (key: string) =>
  h.sandbox.jira.issuesOf(JIRA.projectKey).filter((i) => (i.properties.get('trackline') as { item?: string } | undefined)?.item === key);
const upsert = (key: string, fields: Record<string, unknown>) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...fields }, actor: 'agent:planner' });
const synced = (key: string) =>
  waitFor(
    () => h.sql`select remote_key from mappings where item_key = ${key} and status = 'synced' and remote_id is not null`.then((r) => r[0]),
    30_000,
  );
const createCalls = () => h.sandbox.log.entries({ tracker: 'jira', method: 'POST' }).filter((e) => e.path === '/rest/api/3/issue');

describe('a Jira create', { timeout: 60_000 }, () => {
  it('whose answer is lost, retried while the search still lags, keeps looking until the lag is out instead of creating again: one issue', async () => {
    h.sandbox.faults.inject({ tracker: 'jira', method: 'POST', pathIncludes: '/rest/api/3/issue', delayAfterMs: 3_000, times: 1 });
    await upsert('once/1', { title: 'Lost answer' });
    const mapping = await synced('once/1');
    expect(issuesFor('once/1')).toHaveLength(1);
    expect(mapping.remote_key).toBe(issuesFor('once/1')[0].key);
    // The retry did not create again: it waited, then found the issue by its marker.
    expect(createCalls()).toHaveLength(1);
    const [recovered] = await h.sql`select detail from activity where item_key = 'once/1' and action = 'remote.recovered'`;
    expect(recovered.detail.remote).toBe(mapping.remote_key);
  });

  it('that Jira refuses (429) is retried without waiting out the search lag, and makes one issue', async () => {
    h.sandbox.log.clear();
    h.sandbox.faults.inject({ tracker: 'jira', method: 'POST', pathIncludes: '/rest/api/3/issue', status: 429, retryAfter: 1, times: 1 });
    await upsert('once/2', { title: 'Refused first' });
    await synced('once/2');
    expect(issuesFor('once/2')).toHaveLength(1);
    const calls = createCalls();
    expect(calls.map((c) => c.status)).toEqual([429, 201]);
    // The second create went out about when the 429 said (1 s), not after the 10 s lag wait.
    expect(Date.parse(calls[1].at) - Date.parse(calls[0].at)).toBeLessThan(8_000);
    const attempts = await h.sql`select attempt_log from deliveries where item_key = 'once/2' and kind = 'reconcile'`;
    expect(JSON.stringify(attempts)).not.toContain('may not show it yet');
  });
});
