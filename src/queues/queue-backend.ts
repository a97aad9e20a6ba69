import type { IQueueBackend, Job, JobProgress, Processor, Queue, QueueEvents, Worker, WorkerOptions } from 'bullmq';

/**
 * Where the queues live: Redis (BullMQ's own store, the production default) or PostgreSQL
 * (BullMQ's PostgreSQL backend, so Trackline runs on one server). The rest of the code builds its
 * queues, workers and event listeners through this seam and never asks which one it is; only the
 * composition root does, to pick the pacing and coalescing stores that go with it.
 */
export type QueueBackendKind = 'redis' | 'postgres';

// BullMQ's own (unexported) helpers that turn a Queue's first type argument into its job types.
// biome-ignore lint/suspicious/noExplicitAny: as BullMQ declares them
type ExtractDataType<T, Default> = T extends Job<infer D, any, any> ? D : Default;
// biome-ignore lint/suspicious/noExplicitAny: as above
type ExtractResultType<T, Default> = T extends Job<any, infer R, any> ? R : Default;
// biome-ignore lint/suspicious/noExplicitAny: as above
type ExtractNameType<T, Default extends string> = T extends Job<any, any, infer N> ? N : Default;

/** A queue of either backend. Its API is BullMQ's Queue; only the store behind it differs. */
// biome-ignore lint/suspicious/noExplicitAny: the connection options differ per backend and are not used past construction
export type AnyQueue<D = any> = Queue<
  D,
  // biome-ignore lint/suspicious/noExplicitAny: BullMQ's own default
  any,
  string,
  ExtractDataType<D, D>,
  // biome-ignore lint/suspicious/noExplicitAny: BullMQ's own default
  ExtractResultType<D, any>,
  ExtractNameType<D, string>,
  IQueueBackend,
  // biome-ignore lint/suspicious/noExplicitAny: as above
  any
>;
// biome-ignore lint/suspicious/noExplicitAny: as above
export type AnyWorker<D = any> = Worker<D, any, string, IQueueBackend, JobProgress, any>;
// biome-ignore lint/suspicious/noExplicitAny: as above
export type AnyQueueEvents = QueueEvents<any, IQueueBackend, any>;

/** Worker tuning; the connection (and Redis's key prefix) come from the backend. */
export type WorkerTuning = Omit<WorkerOptions, 'connection' | 'prefix'>;

export interface QueueBackend {
  readonly kind: QueueBackendKind;
  /** Where the queues are, for logs and /readyz (never a password). */
  readonly describe: string;
  queue<D>(name: string): AnyQueue<D>;
  worker<D>(name: string, processor: Processor<D>, tuning: WorkerTuning): AnyWorker<D>;
  /** A listener for a queue's events (a dry-run plan's result); it needs a connection of its own. */
  queueEvents(name: string): AnyQueueEvents;
  /** Resolves when the store answers; rejects with its error otherwise. */
  ping(): Promise<void>;
  /**
   * Calls `listener` each time the store's connection comes back after an outage, so what lives in
   * it (job schedulers) can be put back: Redis may come back empty. Answers the unsubscribe.
   */
  onReconnect(listener: () => void): () => void;
  /** Closes the backend's connections; the queues and workers built on it are closed first. */
  close(): Promise<void>;
}
