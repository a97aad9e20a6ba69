// What every tracker's sandbox plugs into the shared frame (server.ts): its Hono env and mount.
// Apart from server.ts so the tracker folders and the frame do not import each other.

import type { Context, Hono } from 'hono';
import type { HttpBindings } from '@hono/node-server';

export type SandboxEnv = {
  /** Absent when the app is called in-process (app.request) instead of through listen(). */
  Bindings: Partial<HttpBindings>;
  Variables: {
    tracker: string;
    /** The raw request body ('' for none). */
    rawBody: string;
    /** The body parsed as JSON; undefined when empty or not JSON. */
    body: unknown;
    /** JSON.parse's message when the body was not JSON. */
    bodyError: string | undefined;
  };
};

/** What a tracker plugs into the frame. */
export interface TrackerMount {
  name: string;
  /** The API roots this tracker owns, e.g. ["/api/v1"]; requests under them are its requests. */
  roots: string[];
  /** Routes with their full paths. */
  app: Hono<SandboxEnv>;
  /** The tracker's body and headers for an error status (used by faults). */
  renderError(status: number, retryAfter?: number): Response;
  /** Answer for a path under one of the roots that no route matched. */
  notFound(c: Context<SandboxEnv>, path: string): Response;
}
