import type { CallContext } from '../sync/port/tracker.ts';

/**
 * One cached tracker lookup (a project's states, labels, members, cycles...), the unit a catalog is
 * made of:
 * - `get`: the cached value, loaded on first use; concurrent callers share one load;
 * - `reload`: loaded again now, callers wait for it (a name that was not found: a miss); callers
 *   that miss while a reload is on its way share it (two items naming one new version at once made
 *   two reads of the project's versions, then one create);
 * - `refresh`: loaded again in the background (catalog warming): callers keep getting the value
 *   they have until the new one has arrived, so a refresh that waits for the tracker's budget
 *   never holds up a create;
 * - a failed load is forgotten, so the next caller tries again (a refresh that fails keeps the
 *   value it had).
 * `onLoad` sees every loaded value as it arrives (catalogs fill their id → name maps there).
 */
export class Lookup<T> {
  private current?: Promise<T>;
  /** A reload on its way, shared by the callers that ask for one meanwhile. */
  private reloading?: Promise<T>;

  constructor(
    private readonly load: (ctx: CallContext) => Promise<T>,
    private readonly onLoad?: (value: T) => void,
  ) {}

  get(ctx: CallContext): Promise<T> {
    return this.current ?? this.reload(ctx);
  }

  reload(ctx: CallContext): Promise<T> {
    if (this.reloading !== undefined) return this.reloading;
    const pending = this.fetch(ctx);
    this.current = pending;
    this.reloading = pending;
    const done = () => {
      if (this.reloading === pending) this.reloading = undefined;
    };
    pending.then(done, done);
    return pending;
  }

  async refresh(ctx: CallContext): Promise<void> {
    if (!this.current) {
      await this.reload(ctx);
      return;
    }
    const pending = this.fetch(ctx);
    await pending;
    this.current = pending;
  }

  /** Changes the cached value in place (something Trackline itself added, such as a new label). */
  update(change: (value: T) => T): void {
    if (this.current !== undefined) this.current = this.current.then(change);
  }

  private fetch(ctx: CallContext): Promise<T> {
    const pending = this.load(ctx).then((value) => {
      this.onLoad?.(value);
      return value;
    });
    pending.catch(() => {
      if (this.current === pending) this.current = undefined;
    });
    return pending;
  }
}

/** A catalog whose lookups can be warmed: `warm` refreshes every lookup a create needs. */
export interface WarmableCatalog {
  warm(ctx: CallContext): Promise<void>;
}

/** Refreshes every lookup, each on its own: one that fails does not stop the others; the first failure is thrown after. */
export async function refreshAll(lookups: ReadonlyArray<{ refresh(ctx: CallContext): Promise<void> }>, ctx: CallContext): Promise<void> {
  const results = await Promise.allSettled(lookups.map((l) => l.refresh(ctx)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
