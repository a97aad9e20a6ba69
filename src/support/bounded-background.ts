/**
 * Work allowed to finish after the request it belongs to has been answered, up to a bound.
 *
 * The intake answers once Postgres has committed a request and hands its job to Redis beside the
 * answer: the row is the record, the job only wakes a worker, and a job that never arrives is the
 * outbox sweep's to enqueue. Waiting for Redis as well cost every request a second round trip.
 * The bound keeps a slow or absent Redis from piling up unfinished enqueues in memory: past it,
 * answers wait for their own enqueue again, so the intake slows down instead.
 */
export class BoundedBackground {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly max: number) {}

  /**
   * Lets `task` (which must not reject) run on: resolves at once while fewer than `max` tasks are
   * running, else only when `task` itself is done.
   */
  async add(task: Promise<void>): Promise<void> {
    if (this.running.size >= this.max) return task;
    this.running.add(task);
    void task.then(() => this.running.delete(task));
  }

  /** Resolves when every task added so far has finished. */
  async drained(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }
}
