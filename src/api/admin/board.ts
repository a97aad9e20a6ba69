import { Hono } from 'hono';
import { trimTrailingSlash } from 'hono/trailing-slash';
import type { AnyQueue } from '../../queues/queue-backend.ts';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { adminAuth } from '../middleware/admin-auth.ts';
import type { ApiToken } from '../../config/api-tokens.ts';
import type { QueueName } from '../../queues/names.ts';

/** Where the board is served (DESIGN 4.3). */
export const BOARD_PATH = '/admin/queues';

/**
 * What each queue holds, as an operator reading the board needs it. Keyed by every queue name,
 * so a new queue is a type error here until it says what it is for.
 */
const DESCRIPTIONS: Record<QueueName, string> = {
  reconcile:
    'One job per item and connection: read, diff, write. Name: "<connection> <item key>". Retrying runs the sync again; its delivery row (dedup key job:<id>) follows.',
  inbound: 'One job per accepted tracker webhook. Name: "<connection> webhook <delivery id>".',
  poll: 'Polls each connection for what webhooks miss, on its poll_interval.',
  callbacks: 'Signed callbacks to the orchestrator, one per remote change. Name: "change <change id>" (GET /v1/changes).',
  plans: 'Dry-run sync plans asked for by an operator.',
  maintenance: 'Housekeeping: the outbox sweep that re-enqueues work a crash left behind.',
};

export interface BoardOptions {
  queues: AnyQueue[];
  /** The `[admin]` credentials (basic auth). */
  admin?: { username: string; password: string };
  /** `[api] tokens`; those with the `admin` scope open the board (bearer). Without one and `admin` the board is off (never open). */
  tokens?: readonly ApiToken[];
}

/**
 * Bull Board for every queue, behind HTTP basic auth with the `[admin]` credentials or a bearer
 * token with the `admin` scope (middleware/admin-auth.ts). Mount the
 * returned app at BOARD_PATH. Retries are allowed (that is what operators come for); each queue's
 * processor records the new attempt on the job's delivery row itself, so nothing here needs to
 * know about deliveries.
 */
export function boardRoutes(options: BoardOptions): Hono<AppEnv> {
  const board = new Hono<AppEnv>();
  const { admin } = options;
  const tokens = options.tokens ?? [];
  if (!admin && !tokens.some((t) => t.scopes.has('admin'))) {
    // A 404 rather than an open board: queue data names items and connections, and a retry is a
    // write. The message says how to turn it on.
    board.all('*', () => {
      throw new ApiError(
        'not_found',
        'Bull Board is off: set [admin] username and password, or an [api] token with the admin scope, in trackline.toml to turn it on',
      );
    });
    return board;
  }
  board.use(adminAuth({ basic: admin && { username: admin.username, password: admin.password, realm: 'Trackline admin' }, tokens }));
  // "/admin/queues/" (as people type it) redirects to the board instead of a 404.
  board.use(trimTrailingSlash());

  // The board's code (Bull Board, its templates and UI assets) is loaded by the first request
  // for it, not at start: most api processes never serve it (issue 17, section 4: memory).
  let ui: Promise<Hono> | undefined;
  const loadUi = () =>
    (ui ??= import('./board-ui.ts')
      .then((m) => m.boardUi(BOARD_PATH, options.queues, DESCRIPTIONS))
      .catch((error: unknown) => {
        ui = undefined;
        throw error;
      }));
  board.all('*', async (c) => (await loadUi()).fetch(c.req.raw, c.env));
  return board;
}
