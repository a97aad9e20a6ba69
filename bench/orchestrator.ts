import type { LoadRequest } from './load.ts';
import { API_TOKEN } from './stack.ts';

/**
 * The orchestrator's side of the benchmarks: POST /v1/events to a running `trackline` api,
 * batched or one event per request, remembering when each item's event was sent (the start of
 * every latency the benchmarks measure).
 */
export interface ItemEvent {
  type: 'item.upserted';
  item: { key: string; [field: string]: unknown };
  actor?: string;
}

export function upsert(key: string, fields: Record<string, unknown>): ItemEvent {
  return { type: 'item.upserted', item: { key, ...fields }, actor: 'agent:bench' };
}

/** POSTs one body; throws unless the api answers 202. */
export async function postEvents(apiUrl: string, events: ItemEvent[]): Promise<void> {
  const res = await fetch(`${apiUrl}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
    body: JSON.stringify(events.length === 1 ? events[0] : { events }),
  });
  if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/**
 * Sends events in batches of `batch` (the api takes at most 500 per request), `concurrency`
 * requests at a time, as an orchestrator catching up would. Returns when each key was sent.
 */
export async function postBatches(
  apiUrl: string,
  events: ItemEvent[],
  options: { batch?: number; concurrency?: number } = {},
): Promise<Map<string, number>> {
  const size = options.batch ?? 500;
  const sentAt = new Map<string, number>();
  const batches: ItemEvent[][] = [];
  for (let i = 0; i < events.length; i += size) batches.push(events.slice(i, i + size));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency ?? 4, batches.length) }, async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        const at = Date.now();
        for (const e of batch) if (!sentAt.has(e.item.key)) sentAt.set(e.item.key, at);
        await postEvents(apiUrl, batch);
      }
    }),
  );
  return sentAt;
}

/**
 * Sends one event per request at a steady `ratePerS`, on a fixed schedule (a slow answer does not
 * delay the next send, so the rate is what the api receives, not what it can keep up with).
 */
export async function postAtRate(apiUrl: string, events: ItemEvent[], ratePerS: number): Promise<Map<string, number>> {
  const sentAt = new Map<string, number>();
  const start = Date.now() + 20;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < events.length; i++) {
    const due = start + (i * 1000) / ratePerS;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sentAt.set(events[i].item.key, Date.now());
    inFlight.push(postEvents(apiUrl, [events[i]]));
  }
  await Promise.all(inFlight);
  return sentAt;
}

/**
 * One `item.upserted` a request, for wrk: `count` new items keyed `<prefix>/<i>`, as an
 * orchestrator reporting new work would post them (the intake and scale sections).
 */
export function* eventRequests(prefix: string, count: number): Generator<LoadRequest> {
  for (let i = 0; i < count; i++) {
    const key = `${prefix}/${i}`;
    yield {
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${API_TOKEN}` },
      body: JSON.stringify({
        type: 'item.upserted',
        item: { key, kind: 'work_package', title: `Bench item ${key}`, state: 'doing', labels: ['backend'], priority: 'high' },
        actor: 'agent:bench',
      }),
    };
  }
}
