/** Every queue Trackline uses. One place, so Bull Board, metrics and shutdown list them all. */
export const QUEUE = {
  /** One job per (item, connection): read, diff, write. Deduplicated per pair. */
  reconcile: 'reconcile',
  /** One job per accepted tracker webhook: normalize it, then reconcile or import. */
  inbound: 'inbound',
  /** Polls each connection on its `poll_interval` (a BullMQ job scheduler per connection). */
  poll: 'poll',
  /** Signed callbacks that tell the orchestrator about remote changes. */
  callbacks: 'callbacks',
  /** Dry-run sync plans, asked for by an operator and computed by a worker (which may read trackers). */
  plans: 'plans',
  /** Housekeeping on a schedule: the outbox sweep that re-enqueues work a crash left behind. */
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUE)[keyof typeof QUEUE];
export const ALL_QUEUES: QueueName[] = Object.values(QUEUE);
