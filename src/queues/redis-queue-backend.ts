import { Queue, QueueEvents, Worker, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis, createRedis } from '../support/redis.ts';
import type { AnyQueue, AnyQueueEvents, AnyWorker, QueueBackend, WorkerTuning } from './queue-backend.ts';

/**
 * The queues in Redis, as BullMQ's production guide sets them up: the queues (producers) share a
 * client that fails fast while Redis is away, so the api answers at once instead of hanging; the
 * workers share one that retries forever, so a Redis restart pauses them instead of crashing them
 * (BullMQ duplicates it for each worker's blocking reads).
 */
export class RedisQueueBackend implements QueueBackend {
  readonly kind = 'redis' as const;
  readonly describe: string;

  private constructor(
    readonly producer: Redis,
    /** Present when built for workers; the pacing and coalescing stores use it too. */
    readonly workerRedis: Redis | undefined,
    private readonly prefix: string,
    url: string,
  ) {
    const parsed = new URL(url);
    this.describe = `Redis at ${parsed.host} (key prefix ${prefix})`;
  }

  static async connect(url: string, prefix: string, options: { workers: boolean }): Promise<RedisQueueBackend> {
    const producer = createRedis(url, 'producer');
    await connectRedis(producer, url);
    let workerRedis: Redis | undefined;
    if (options.workers) {
      workerRedis = createRedis(url, 'worker');
      try {
        await connectRedis(workerRedis, url);
      } catch (error) {
        producer.disconnect();
        throw error;
      }
    }
    return new RedisQueueBackend(producer, workerRedis, prefix, url);
  }

  queue<D>(name: string): AnyQueue<D> {
    return new Queue<D>(name, { connection: this.producer, prefix: this.prefix });
  }

  worker<D>(name: string, processor: Processor<D>, tuning: WorkerTuning): AnyWorker<D> {
    if (!this.workerRedis) throw new Error('the queue backend was built without worker connections');
    return new Worker<D>(name, processor, { ...tuning, connection: this.workerRedis, prefix: this.prefix });
  }

  queueEvents(name: string): AnyQueueEvents {
    // QueueEvents blocks on its connection, so it gets its own, one that waits out an outage.
    const blocking = this.producer.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, lazyConnect: false });
    return new QueueEvents(name, { connection: blocking, prefix: this.prefix });
  }

  async ping(): Promise<void> {
    await this.producer.ping();
  }

  onReconnect(listener: () => void): () => void {
    this.producer.on('ready', listener);
    return () => this.producer.off('ready', listener);
  }

  async close(): Promise<void> {
    for (const client of [this.workerRedis, this.producer]) await client?.quit().catch(() => client.disconnect());
  }
}
