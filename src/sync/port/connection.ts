import type { ConnectionConfig } from '../../config/schema.ts';
import type { Translator } from '../translate.ts';
import type { TrackerAdapter } from './tracker.ts';
import type { PullRequestCapabilities } from './pull-requests.ts';

/**
 * What the engine needs of one configured connection: its settings, its vocabulary translator and
 * its adapter. The connection registry (src/connections) builds these; the engine never builds an
 * adapter itself, so it depends on no tracker.
 */
export interface Connection {
  config: ConnectionConfig;
  translate: Translator;
  /** Built on first use, in worker processes only: the api never calls a tracker. */
  adapter(): TrackerAdapter & PullRequestCapabilities;
}
