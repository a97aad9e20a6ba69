/**
 * Which request and job a delivery belongs to, so a log line about a tracker call can name the
 * request id that started the work.
 *
 * Tracker calls are reported by the HTTP client in src/trackers, which knows the delivery id and
 * nothing about jobs or requests (trackers stay free of queue concerns). Async context cannot
 * carry the request id there reliably either: a call that waited for the budget may be resumed
 * from another job's continuation (the pacer's line), so the context seen inside it may be another job's.
 * The delivery id, on the other hand, is passed explicitly with every call, so it is the key.
 *
 * Process-wide on purpose: it is a cache of immutable facts (a delivery's request id never
 * changes), bounded in size, so entries never need releasing and a stale one is never wrong.
 */
export interface DeliveryContext {
  /** The api request that caused the work (`x-request-id`). */
  requestId?: string;
  /** The delivery's kind (reconcile, webhook, callback...). */
  kind?: string;
  /** The BullMQ job id running it. */
  job?: string;
}

/** Enough for every job a worker process runs at once, many times over. */
const MAX_ENTRIES = 10_000;
const contexts = new Map<string, DeliveryContext>();

export function bindDeliveryContext(deliveryId: string, context: DeliveryContext): void {
  // Re-inserting moves the entry to the end, so the oldest is the one evicted.
  contexts.delete(deliveryId);
  contexts.set(deliveryId, context);
  if (contexts.size > MAX_ENTRIES) contexts.delete(contexts.keys().next().value!);
}

export function deliveryContext(deliveryId: string | undefined): DeliveryContext {
  return (deliveryId && contexts.get(deliveryId)) || {};
}
