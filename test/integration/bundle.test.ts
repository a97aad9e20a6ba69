import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freshBundle } from '../../bin/fresh-bundle.js';

const ROOT = new URL('../../', import.meta.url);

/**
 * `npm ci` bundles the CLI into dist/ (scripts/build.ts) and bin/trackline.js runs that bundle,
 * so the tests that start `trackline` processes run what users run. After an edit the bundle is
 * stale and those processes run the sources, so this test skips on a developer's machine; under
 * CI (a fresh clone, `npm ci` just done) a missing or stale bundle fails instead.
 */
const bundle = freshBundle(ROOT);
const REQUIRE_BUNDLE = Boolean(process.env.CI);

describe.skipIf(!bundle && !REQUIRE_BUNDLE)('the bundled CLI', () => {
  it('is there after npm ci and matches the sources', () => {
    expect(bundle?.href).toBe(new URL('dist/cli/main.js', ROOT).href);
  });

  it('is what bin/trackline.js runs, without tsx, unless TRACKLINE_FROM_SOURCE=1', () => {
    // NODE_DEBUG=esm names every module Node's ESM loader loads (on stderr).
    const loaded = (env: Record<string, string>) =>
      spawnSync(process.execPath, [fileURLToPath(new URL('bin/trackline.js', ROOT)), '--help'], {
        env: { PATH: process.env.PATH ?? '', NODE_DEBUG: 'esm', ...env },
        encoding: 'utf8',
      }).stderr;
    const bundled = loaded({});
    expect(bundled).toContain(new URL('dist/cli/main.js', ROOT).href);
    expect(bundled).not.toContain('node_modules/tsx/');
    expect(bundled).not.toContain(new URL('src/cli/main.ts', ROOT).href);
    const fromSource = loaded({ TRACKLINE_FROM_SOURCE: '1' });
    expect(fromSource).toContain('node_modules/tsx/');
    expect(fromSource).not.toContain(new URL('dist/cli/main.js', ROOT).href);
  });

  it('runs a command, with its lazily loaded modules, from dist/ alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trackline-bundle-'));
    try {
      writeFileSync(join(dir, 'trackline.toml'), '[api]\ntokens = ["bundle-test-token-4821"]\n');
      // `config show` loads its command module (a chunk of its own) and the config schema.
      const run = spawnSync(process.execPath, [fileURLToPath(new URL('dist/cli/main.js', ROOT)), 'config', 'show'], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
      });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toContain('coalesce_window = "500ms"');
      expect(run.stdout).toContain('"…4821"');
      expect(run.stdout).not.toContain('bundle-test-token');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
