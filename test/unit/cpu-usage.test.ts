import { describe, expect, it } from 'vitest';
import { between, cpuAvailable, perRequestUs, snapshot } from '../../bench/cpu-usage.ts';

describe.runIf(cpuAvailable())('bench CPU accounting (/proc)', () => {
  it('charges a busy process its CPU time, as the server, and per request', () => {
    const start = snapshot(process.pid);
    // Keep this process on the CPU for a while (no timer: the CPU it used is what is measured).
    let spent = 0;
    const began = process.cpuUsage();
    while (spent < 300_000) {
      for (let i = 0; i < 1e5; i++) Math.sqrt(i);
      const used = process.cpuUsage(began);
      spent = used.user + used.system;
    }
    const window = between(start, snapshot(process.pid));
    // At least most of the 0.3 s this process spent, at 100 ticks per second, is charged to it.
    expect(window.byRole.server).toBeGreaterThanOrEqual(0.2);
    expect(window.byRole.server).toBeLessThan(window.seconds * window.cores + 0.05);
    expect(window.machineBusy).toBeGreaterThan(0);
    const perRequest = perRequestUs(window, 1000);
    expect(perRequest.server).toBeCloseTo((window.byRole.server * 1e6) / 1000, 6);
    // "other" (the rest of the machine) is reported but left out of the total.
    expect(perRequest.total).toBeCloseTo(perRequest.server + perRequest.postgres + perRequest.redis + perRequest['load generator'], 6);
  });
});
