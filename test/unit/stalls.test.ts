import { describe, expect, it } from 'vitest';
import { describeStalls, findStalls } from '../../bench/stalls.ts';

describe('open-loop stalls (bench/stalls.ts)', () => {
  it('tells a bunched tail (the server stopped) from a spread one, and gives the p99 outside the stalls', () => {
    // 1,000 requests at 500/s: fast ones at 2 ms, one stall of five slow requests (30, 25, 20, 15, 12 ms),
    // two lone slow ones (11 and 40 ms: not stalls), and a run of two over 10 ms (shorter than three: not a stall).
    const series = Array.from({ length: 1000 }, () => 2);
    [30, 25, 20, 15, 12].forEach((ms, i) => (series[100 + i] = ms));
    series[300] = 11;
    series[600] = 40;
    series[800] = 14;
    series[801] = 13;
    const s = findStalls(series, 500);
    expect(s).toMatchObject({ requests: 1000, slow: 9, slowInStalls: 5, stalls: 1, worstMs: 30, seconds: 2 });
    // Outside the stall: 995 requests, the four slow ones the highest; the 99th percentile is the 986th.
    expect(s.p99OutsideMs).toBe(2);
    expect(describeStalls(s)).toContain('1 stalls in 2 s');
  });

  it('a request with no answer (-1) neither breaks a stall nor counts in it; a stall running to the end is closed', () => {
    const series = [2, 2, 20, -1, 22, 24, 2, 2, 15, 16, 17];
    const s = findStalls(series, 500);
    expect(s).toMatchObject({ requests: 10, stalls: 2, slow: 6, slowInStalls: 6, worstMs: 24 });
    expect(s.p99OutsideMs).toBe(2);
  });

  it('no stall: says so, with the p99 of every request', () => {
    const s = findStalls([1, 2, 3, 50, 2, 1], 500);
    expect(s.stalls).toBe(0);
    expect(describeStalls(s)).toBe('no stall (3 or more requests in a row over 10 ms); p99 50.0 ms');
  });
});
