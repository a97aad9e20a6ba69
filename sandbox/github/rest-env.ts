// Types the REST route files share (routes.ts, pull-routes.ts).

import type { Context } from 'hono';
import type { SandboxEnv } from '../mount.ts';
import type { Urls } from './json.ts';
import type { GhRepoRec, GhTokenRec } from './store.ts';

export type GhEnv = {
  Bindings: SandboxEnv['Bindings'];
  Variables: SandboxEnv['Variables'] & { ghToken: GhTokenRec; urls: Urls };
};
export type C = Context<GhEnv>;

/** What the pull request routes share with these: a REST route behind the gate, and the request helpers. */
export interface RestHelpers {
  on(method: string, path: string, handler: (c: C) => Response | Promise<Response>): void;
  bodyOf(c: C): Record<string, unknown>;
  repoOf(c: C): GhRepoRec;
  urls(c: C): Urls;
  viewer(c: C): string;
  paginate<T>(c: C, items: T[], render: (item: T) => unknown): Response;
}
