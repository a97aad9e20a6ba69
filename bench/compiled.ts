import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from './stack.ts';

/**
 * The bench's own processes (the naive peer, the plain endpoint, the no-op worker, the open-loop
 * client) as plain JavaScript, bundled the way `npm run build` bundles the CLI: Trackline runs from
 * its bundle, so its references must not carry tsx's loader thread (about 40 MB of RSS, and a
 * round trip to that thread on every dynamic import) when it does not. Bundled once per bench run
 * into node_modules/.cache, where the packages left external still resolve.
 */
const OUT = join(ROOT, 'node_modules/.cache/trackline-bench');
const built = new Map<string, Promise<string>>();

export function compiled(entry: string): Promise<string> {
  let out = built.get(entry);
  if (!out) {
    out = (async () => {
      mkdirSync(OUT, { recursive: true });
      const file = join(OUT, basename(entry).replace(/\.ts$/, '.mjs'));
      await build({
        entryPoints: [join(ROOT, entry)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        outfile: file,
        absWorkingDir: ROOT,
        logLevel: 'warning',
      });
      return file;
    })();
    built.set(entry, out);
  }
  return out;
}
