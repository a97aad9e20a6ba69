// Whether dist/ still says what the sources say (see scripts/build.ts): bin/trackline.js runs the
// bundle only then. Plain JavaScript, like bin/trackline.js, since it runs before any loader.
import { readFileSync, statSync } from 'node:fs';

/**
 * The bundle's entry under `root` (a folder URL), if every source file dist/build.json lists is
 * unchanged since the build began; undefined when it was never built, or a source was edited or
 * removed since.
 */
export function freshBundle(root) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('dist/build.json', root), 'utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(manifest.inputs) || typeof manifest.startedAt !== 'number') return undefined;
  for (const input of manifest.inputs) {
    const stat = statSync(new URL(input, root), { throwIfNoEntry: false });
    if (!stat || stat.mtimeMs >= manifest.startedAt) return undefined;
  }
  return new URL('dist/cli/main.js', root);
}
