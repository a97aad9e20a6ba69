import { Hono } from 'hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import type { Queue } from 'bullmq';
import type { AnyQueue } from '../../queues/queue-backend.ts';
import type { QueueName } from '../../queues/names.ts';

/**
 * Bull Board itself, at `basePath`, for board.ts to hand its requests to once they passed the
 * admin check. A module of its own so that the api loads it with the first request for the board.
 */
export function boardUi(basePath: string, queues: AnyQueue[], descriptions: Record<QueueName, string>): Hono {
  const serverAdapter = new HonoAdapter(serveStatic).setBasePath(basePath);
  createBullBoard({
    queues: queues.map(
      (queue) =>
        // The adapter is typed for Redis-backed queues but drives either backend through the
        // Queue API (it reads the PostgreSQL backend's pool for its store statistics).
        new BullMQAdapter(queue as unknown as Queue, {
          readOnlyMode: false,
          allowRetries: true,
          description: descriptions[queue.name as QueueName] ?? '',
        }),
    ),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Trackline', hideDocsLink: true } },
  });
  return new Hono().route(basePath, serverAdapter.registerPlugin());
}
