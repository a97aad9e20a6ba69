import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshBundle } from '../../bin/fresh-bundle.js';

/** A checkout in a temporary folder: two sources, built at `builtAt` (dist/build.json). */
function checkout(dir: string, builtAt: number) {
  mkdirSync(join(dir, 'src/cli'), { recursive: true });
  mkdirSync(join(dir, 'dist/cli'), { recursive: true });
  for (const file of ['src/cli/main.ts', 'src/cli/errors.ts']) {
    writeFileSync(join(dir, file), '// source\n');
    utimesSync(join(dir, file), new Date(builtAt - 60_000), new Date(builtAt - 60_000));
  }
  writeFileSync(join(dir, 'dist/cli/main.js'), '// bundle\n');
  writeFileSync(join(dir, 'dist/build.json'), JSON.stringify({ startedAt: builtAt, inputs: ['src/cli/main.ts', 'src/cli/errors.ts'] }));
}

describe('bin/trackline.js runs the bundle only while it matches the sources', () => {
  let dir: string;
  let root: URL;
  const builtAt = Date.now() - 10_000;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'trackline-bundle-'));
    root = pathToFileURL(`${dir}/`);
    checkout(dir, builtAt);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs dist/cli/main.js when no source changed since the build began', () => {
    expect(freshBundle(root)?.href).toBe(new URL('dist/cli/main.js', root).href);
  });

  it('runs the sources once one of them is edited after the build began', () => {
    utimesSync(join(dir, 'src/cli/errors.ts'), new Date(), new Date(builtAt + 1));
    expect(freshBundle(root)).toBeUndefined();
  });

  it('runs the sources when a source the bundle was made from is gone', () => {
    rmSync(join(dir, 'src/cli/errors.ts'));
    expect(freshBundle(root)).toBeUndefined();
  });

  it('runs the sources when there is no build, or its manifest is not one', () => {
    writeFileSync(join(dir, 'dist/build.json'), '{"inputs": "src/cli/main.ts"}');
    expect(freshBundle(root)).toBeUndefined();
    rmSync(join(dir, 'dist'), { recursive: true });
    expect(freshBundle(root)).toBeUndefined();
  });
});
