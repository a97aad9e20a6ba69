import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { runScenario } from './run.ts';
import { scenarioArb, type Scenario } from './scenario.ts';

/**
 * `npm run test:sim`: SIM_RUNS seeded runs of the deterministic simulation (default 10,000),
 * from SIM_SEED (default: a new one, printed). A failure is shrunk by fast-check to a small
 * scenario, printed with its trace and the one command that replays it (SIM_SEED + SIM_PATH).
 * SIM_SCENARIO=file.json replays a scenario saved as JSON (test/sim/regressions.json holds those
 * that found bugs; test/sim/regressions.test.ts replays them in `npm test`).
 */
const runs = Number(process.env.SIM_RUNS ?? 10_000);
const seed = process.env.SIM_SEED ? Number(process.env.SIM_SEED) : Math.floor(Math.random() * 2 ** 31);
const path = process.env.SIM_PATH;

async function main(): Promise<number> {
  if (process.env.SIM_SCENARIO) {
    const scenario = JSON.parse(readFileSync(process.env.SIM_SCENARIO, 'utf8')) as Scenario;
    await runScenario(scenario);
    console.log(`sim: the scenario in ${process.env.SIM_SCENARIO} holds every invariant`);
    return 0;
  }
  const started = performance.now();
  const byStrategy: Record<string, number> = {};
  const byTracker: Record<string, number> = {};
  let made = 0;
  const result = await fc.check(
    fc.asyncProperty(scenarioArb, async (scenario) => {
      made++;
      byStrategy[scenario.strategy] = (byStrategy[scenario.strategy] ?? 0) + 1;
      byTracker[scenario.tracker] = (byTracker[scenario.tracker] ?? 0) + 1;
      await runScenario(scenario);
    }),
    { numRuns: runs, seed, ...(path ? { path, endOnFailure: true } : {}) },
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (!result.failed) {
    console.log(
      `sim: ${result.numRuns} runs passed in ${seconds} s (seed ${seed}); strategies ${JSON.stringify(byStrategy)}, trackers ${JSON.stringify(byTracker)}`,
    );
    return 0;
  }
  const [scenario] = result.counterexample ?? [];
  console.error(`sim: FAILED after ${result.numRuns} runs (${made} with shrinking) in ${seconds} s, seed ${seed}`);
  console.error(`\nshrunk scenario:\n${JSON.stringify(scenario)}\n`);
  console.error(String(result.errorInstance instanceof Error ? result.errorInstance.message : result.errorInstance));
  console.error(`\nreplay: SIM_SEED=${seed} SIM_PATH="${result.counterexamplePath}" npm run test:sim`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
