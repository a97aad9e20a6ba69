import type { Sql } from '../db/client.ts';

/**
 * Header names whose values are credentials or signatures. They are kept as "[redacted]" so the
 * delivery log shows that they were present without holding anything an attacker could replay.
 */
const SECRET_HEADERS = /^(authorization|proxy-authorization|cookie|x-api-key|x-hub-signature(-256)?|x-plane-signature|webhook-signature)$/i;

export function redactHeaders(headers: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = SECRET_HEADERS.test(name) ? '[redacted]' : value.slice(0, 500);
  }
  return out;
}

export interface AcceptedWebhook {
  deliveryId: string | null;
  duplicate: boolean;
}

/**
 * Records an authenticated webhook durably before it is answered. The unique (direction,
 * connection, dedup key) index makes a redelivery of the same event a no-op: the second insert
 * returns nothing and the caller answers "duplicate".
 */
export async function recordWebhook(
  sql: Sql,
  args: {
    connectionId: string;
    dedupKey: string;
    eventName: string;
    headers: Record<string, string>;
    payload: unknown;
    requestId?: string;
  },
): Promise<AcceptedWebhook> {
  const rows = await sql<{ id: string }[]>`
    insert into deliveries (direction, kind, connection_id, dedup_key, status, attempts, request, request_id)
    values ('in', 'webhook', ${args.connectionId}, ${args.dedupKey}, 'received', 1,
      ${sql.json({ event: args.eventName, headers: args.headers, payload: args.payload } as never)}, ${args.requestId ?? null})
    on conflict (direction, connection_id, dedup_key) do nothing
    returning id`;
  return rows.length ? { deliveryId: rows[0].id, duplicate: false } : { deliveryId: null, duplicate: true };
}

/** A refused webhook is recorded without its body, so an operator can see who is knocking. */
export async function recordRejectedWebhook(
  sql: Sql,
  args: { connectionId: string; reason: string; status: number; headers: Record<string, string>; requestId?: string },
): Promise<void> {
  await sql`insert into deliveries (direction, kind, connection_id, status, attempts, last_error, request, request_id)
    values ('in', 'webhook', ${args.connectionId}, 'rejected', 1, ${args.reason},
      ${sql.json({ answered: args.status, headers: args.headers } as never)}, ${args.requestId ?? null})`;
}
