import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runScenario } from './run.ts';
import type { Scenario } from './scenario.ts';

/**
 * The simulator's counterexamples that found engine bugs (shrunk scenarios), replayed on every
 * `npm test`: each fails on the engine before its fix. In-memory and deterministic: milliseconds.
 */
const regressions: { why: string; scenario: Scenario }[] = JSON.parse(readFileSync(new URL('./regressions.json', import.meta.url), 'utf8'));

describe('simulator regressions', () => {
  for (const { why, scenario } of regressions) {
    it(why, async () => {
      const world = await runScenario(scenario);
      // Every item has exactly one issue, equal on both sides (runScenario checked the rest).
      for (const key of world.keys) expect(world.tracker.byMarker(key)).toHaveLength(1);
    });
  }
});
