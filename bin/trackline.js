#!/usr/bin/env node
// Runs the CLI in this same process, so there is one process to signal and stop (unlike
// `npx tsx`, which leaves a child behind): the bundle in dist/ when `npm run build` (run by
// `npm ci`) made it from the sources as they are now, else the TypeScript sources through tsx's
// loader, registered in-process. The bundle spares the loader's thread and its memory (about
// 40 MB for `trackline api`: scripts/build.ts). TRACKLINE_FROM_SOURCE=1 always runs the sources.
import { freshBundle } from './fresh-bundle.js';

const bundle = process.env.TRACKLINE_FROM_SOURCE === '1' ? undefined : freshBundle(new URL('../', import.meta.url));
if (bundle) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
