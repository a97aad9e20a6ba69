import type { PlaneStore } from '../sandbox/plane/store.ts';

/**
 * Watches the sandbox Plane's store: when each work item was created and updated, keyed by the
 * Trackline item it carries (Plane's external_id, which Trackline sets on create). The store's
 * change hook fires as the write is applied, inside the request that made it, so these times are
 * "the tracker received the write" to within a fraction of a millisecond, on the same clock as the
 * benchmark's send times.
 */
export class TrackerWatch {
  /** item key → time its issue was created. */
  readonly created = new Map<string, number>();
  /** item key → times of updates since the last `mark()`. */
  readonly updates = new Map<string, number[]>();
  readonly keyOfIssue = new Map<string, string>();
  private readonly unsubscribe: () => void;

  constructor(store: PlaneStore) {
    this.unsubscribe = store.onChange((event) => {
      if (event.entity !== 'issue') return;
      const now = Date.now();
      if (event.action === 'created') {
        const key = store.issues.get(event.id)?.external_id;
        if (!key) return;
        this.keyOfIssue.set(event.id, key);
        if (!this.created.has(key)) this.created.set(key, now);
      } else if (event.action === 'updated') {
        const key = this.keyOfIssue.get(event.id) ?? store.issues.get(event.id)?.external_id;
        if (!key) return;
        const list = this.updates.get(key);
        if (list) list.push(now);
        else this.updates.set(key, [now]);
      }
    });
  }

  /** Forgets updates seen so far: the next phase counts from here. */
  mark(): void {
    this.updates.clear();
  }

  /** First update of each key since the last mark. */
  firstUpdate(key: string): number | undefined {
    return this.updates.get(key)?.[0];
  }

  close(): void {
    this.unsubscribe();
  }
}
