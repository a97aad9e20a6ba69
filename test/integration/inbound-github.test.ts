import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GITHUB, startHarness, waitFor, type Harness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('inbound_github', { plane: false, github: {} });
  const api = await h.listenApi();
  h.sandbox.github.webhooks.register(GITHUB.owner, GITHUB.repo, { url: `${api}/webhooks/gh-main`, secret: GITHUB.webhookSecret });
});
afterAll(async () => h?.close());

const feed = async () =>
  (
    (await (await h.api('GET', '/v1/changes')).json()) as {
      changes: { key: string; fields: Record<string, { from: unknown; to: unknown }> }[];
    }
  ).changes;

describe('GitHub webhooks through the intake', () => {
  it('the same delivery posted twice (GitHub’s redeliver keeps X-GitHub-Delivery): one change, the second answered as a duplicate', async () => {
    await h.postEvents({
      type: 'item.upserted',
      item: { key: 'gh/1', title: 'From the orchestrator', state: 'doing', labels: ['backend'] },
    });
    await waitFor(() => h.sql`select 1 from mappings where item_key = 'gh/1' and status = 'synced'`.then((r) => r.length > 0));
    await h.sandbox.github.webhooks.drain();
    await waitFor(() =>
      h.sql`select count(*)::int as n from deliveries where kind = 'webhook' and status in ('received', 'processing')`.then(
        (r) => r[0].n === 0,
      ),
    );
    expect(await feed()).toEqual([]); // our own writes came back as webhooks and changed nothing

    const [number] = await h.sql`select remote_id from mappings where item_key = 'gh/1'`;
    h.sandbox.github.store.editAsPerson(GITHUB.owner, GITHUB.repo, Number(number.remote_id), { addLabels: ['bug'] });
    await h.sandbox.github.webhooks.drain();
    const change = await waitFor(async () => (await feed()).find((c) => c.key === 'gh/1'));
    expect(change.fields.labels).toEqual({ from: ['backend'], to: ['backend', 'bug'] });

    const labeled = [...h.sandbox.github.webhooks.deliveries].reverse().find((d) => d.event === 'issues' && d.action === 'labeled')!;
    expect(labeled.status).toBe(202);
    h.sandbox.github.webhooks.redeliver(labeled.id);
    await h.sandbox.github.webhooks.drain();
    const again = h.sandbox.github.webhooks.deliveries.filter((d) => d.id === labeled.id);
    expect(again.map((d) => [d.redelivery, d.status])).toEqual([
      [false, 202],
      [true, 200],
    ]);
    const rows = await h.sql`select count(*)::int as n from deliveries where kind = 'webhook' and dedup_key = ${labeled.id}`;
    expect(rows[0].n).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect((await feed()).filter((c) => c.key === 'gh/1')).toHaveLength(1);
  });
});
