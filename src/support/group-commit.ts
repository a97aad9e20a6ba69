/**
 * The batching half of a group commit, shared by the webhook and event intake and by the workers'
 * statement batches (statement-batch.ts): requests that arrive together are handed to `commit` as
 * one batch, and each request's promise settles only when `commit` settles that request's entry
 * (after its batch committed).
 *
 * Batches form by themselves ("smart batching"): an entry is committed at the end of the event
 * loop turn it arrived in, together with every other entry of that turn, unless `maxInFlight`
 * batches are already committing; then it waits for the first of them to finish and goes with
 * everything that gathered meanwhile. An idle api therefore adds no delay, and a busy one commits
 * bigger batches exactly when commits are the bottleneck. Measured with bench/intake.ts at 50
 * concurrent senders: a few batches in flight keep Postgres, Redis and the event loop busy at the
 * same time; one giant batch at a time leaves each idle while another works.
 */
export interface GroupEntry<T, R> {
  item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export interface GroupCommitOptions {
  /** Most batches being committed at once; later entries gather into the next batch meanwhile. */
  maxInFlight?: number;
  /** Most entries in one batch. */
  maxBatch?: number;
}

export class GroupCommit<T, R> {
  /** Counters for tests and metrics: how many batches, how many entries, the largest batch. */
  readonly stats = { batches: 0, entries: 0, largest: 0 };
  private pending: GroupEntry<T, R>[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;

  /** `commit` must settle every entry of its batch (resolve or reject each) before it resolves. */
  constructor(
    private readonly commit: (batch: GroupEntry<T, R>[]) => Promise<void>,
    options: GroupCommitOptions = {},
  ) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 4);
    this.maxBatch = Math.max(1, options.maxBatch ?? 64);
  }

  /** Settles when `commit` settles this item's entry. */
  accept(item: T): Promise<R> {
    return new Promise((resolve, reject) => this.enqueue([{ item, resolve, reject }]));
  }

  /** Puts entries back at the front, for the next batch (a batch that must not hold them together). */
  retryLater(entries: GroupEntry<T, R>[]): void {
    this.pending.unshift(...entries);
    this.schedule();
  }

  private enqueue(entries: GroupEntry<T, R>[]): void {
    this.pending.push(...entries);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the current I/O phase: every request whose body was read in this poll joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  /** Starts batches while there is work and a free slot. */
  private drain(): void {
    while (this.pending.length && this.inFlight < this.maxInFlight) {
      const batch = this.pending.splice(0, this.maxBatch);
      this.inFlight++;
      this.stats.batches++;
      this.stats.entries += batch.length;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
      void this.commit(batch)
        .catch((error: unknown) => {
          // A commit that throws has settled nothing: every entry gets the error.
          for (const entry of batch) entry.reject(error);
        })
        .finally(() => {
          this.inFlight--;
          this.drain();
        });
    }
  }
}
