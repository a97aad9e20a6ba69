import { percentile } from './stats.ts';
import type { Stack } from './stack.ts';

/**
 * Median of 5 bare GETs of the sandbox Plane (refused for their key, so they do not use the budget
 * a section measures): what one round trip to the tracker costs, the floor under any sync latency.
 */
export async function trackerRoundTripMs(stack: Stack): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const res = await fetch(`${stack.sandboxUrl}/api/v1/workspaces/acme/projects/${stack.project.projectId}/states/`, {
      headers: { 'x-api-key': 'bench-reference-key' },
    });
    await res.arrayBuffer();
    times.push(performance.now() - t);
  }
  return percentile(times, 50);
}
