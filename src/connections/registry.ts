import type { ConnectionConfig } from '../config/schema.ts';
import { createTranslator } from '../sync/translate.ts';
import type { TrackerAdapter } from '../sync/port/tracker.ts';
import type { PullRequestCapabilities } from '../sync/port/pull-requests.ts';
import type { Connection } from '../sync/port/connection.ts';

export type { Connection } from '../sync/port/connection.ts';

/** Builds a connection's tracker adapter (src/trackers/adapters.ts, which only workers load). */
export type AdapterFactory = (config: ConnectionConfig) => TrackerAdapter & PullRequestCapabilities;

/** The configured connections, by id, with their translators and (lazily) adapters. */
export class ConnectionRegistry {
  private readonly byId = new Map<string, Connection>();

  constructor(configs: ConnectionConfig[], createAdapter: AdapterFactory | null) {
    for (const config of configs) {
      let adapter: (TrackerAdapter & PullRequestCapabilities) | undefined;
      this.byId.set(config.id, {
        config,
        translate: createTranslator(config),
        adapter: () => {
          if (!createAdapter) throw new Error('tracker adapters are only available in worker processes');
          adapter ??= createAdapter(config);
          return adapter;
        },
      });
    }
  }

  get(id: string): Connection | undefined {
    return this.byId.get(id);
  }

  all(): Connection[] {
    return [...this.byId.values()];
  }

  /** Connections that carry items of this kind (all of them when the connection lists no kinds). */
  carrying(kind: string | null | undefined): Connection[] {
    return this.all().filter((c) => !c.config.kinds || (kind != null && c.config.kinds.includes(kind)));
  }
}
