/**
 * `npm run build` (also run by `npm ci`): bundles the CLI into dist/ so that `bin/trackline.js`
 * runs plain JavaScript instead of compiling TypeScript as it loads.
 *
 * Why a build at all: tsx compiles in a loader thread of its own (Node's module hooks run off the
 * main thread), which stays alive for the life of the process with its own V8 heap and tsx's
 * compiled-source cache. `trackline api` at rest measured 142-151 MB RSS through tsx and 102 MB
 * from the bundle (issue 17's api goal is 150 MB under load). The bundle also starts faster.
 *
 * esbuild does the bundling (tsx already depends on it): ESM, the packages left to node_modules,
 * the lazily imported commands kept lazy (code splitting). dist/build.json lists every source
 * file that went in and when the build began; bin/trackline.js runs the bundle only while no such
 * file has changed since, and the TypeScript sources otherwise, so an edit is never shadowed by a
 * stale bundle.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(ROOT, 'src/cli/main.ts');
const OUT = join(ROOT, 'dist');

if (!existsSync(ENTRY)) {
  // `npm ci` in a Docker layer that has only package.json and patches/ so far: the Dockerfile runs
  // `npm run build` again once the sources are copied in.
  console.log('build: no src/cli/main.ts here yet; nothing to bundle');
  process.exit(0);
}

const startedAt = Date.now();
rmSync(OUT, { recursive: true, force: true });
const result = await build({
  entryPoints: [ENTRY],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  splitting: true,
  outdir: join(OUT, 'cli'),
  metafile: true,
  absWorkingDir: ROOT,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs).filter((path) => !path.includes('node_modules/'));
writeFileSync(join(OUT, 'build.json'), `${JSON.stringify({ startedAt, inputs }, null, 1)}\n`);
console.log(`build: dist/cli from ${inputs.length} source files in ${Date.now() - startedAt} ms`);
