import { percentile } from './stats.ts';

/**
 * Where an open-loop tail comes from in time. A p99 says how slow the slowest hundredth was, not
 * whether those requests were spread over the run (each slow on its own: the work per request) or
 * bunched (the server fell behind for a moment: a pause, a slow commit, a core taken by another
 * process, and the requests arriving meanwhile queued behind it). Read from the
 * latencies in the order the requests were scheduled: a stall is a run of at least `minRequests`
 * consecutive requests slower than `thresholdMs`.
 */
export interface StallSummary {
  /** Answered requests. */
  requests: number;
  /** Requests slower than the threshold, and how many of those sat in stalls. */
  slow: number;
  slowInStalls: number;
  stalls: number;
  /** The slowest request of the slowest stall (0 without stalls). */
  worstMs: number;
  /** p99 of the requests outside the stalls: the tail the work itself makes. */
  p99OutsideMs: number;
  /** The run's length in seconds, from the schedule. */
  seconds: number;
  /** What counted as slow, and as a stall. */
  thresholdMs: number;
  minRequests: number;
}

export function findStalls(inScheduleOrder: number[], ratePerS: number, thresholdMs = 10, minRequests = 3): StallSummary {
  const inStall = new Array<boolean>(inScheduleOrder.length).fill(false);
  let stalls = 0;
  let slowInStalls = 0;
  let worstMs = 0;
  let start = -1;
  // A request with no answer (-1) neither starts nor ends a run.
  const close = (end: number) => {
    const members = [];
    for (let i = start; i < end; i++) if (inScheduleOrder[i] >= 0) members.push(i);
    if (members.length >= minRequests) {
      stalls++;
      slowInStalls += members.length;
      for (const i of members) {
        inStall[i] = true;
        worstMs = Math.max(worstMs, inScheduleOrder[i]);
      }
    }
    start = -1;
  };
  for (let i = 0; i < inScheduleOrder.length; i++) {
    const ms = inScheduleOrder[i];
    if (ms < 0) continue;
    if (ms > thresholdMs) {
      if (start < 0) start = i;
    } else if (start >= 0) close(i);
  }
  if (start >= 0) close(inScheduleOrder.length);
  const answered = inScheduleOrder.filter((ms) => ms >= 0);
  const outside = inScheduleOrder.filter((ms, i) => ms >= 0 && !inStall[i]);
  return {
    requests: answered.length,
    slow: answered.filter((ms) => ms > thresholdMs).length,
    slowInStalls,
    stalls,
    worstMs,
    p99OutsideMs: outside.length ? percentile(outside, 99) : 0,
    seconds: inScheduleOrder.length / ratePerS,
    thresholdMs,
    minRequests,
  };
}

/** One line for the report. */
export function describeStalls(s: StallSummary): string {
  const rule = `${s.minRequests} or more requests in a row over ${s.thresholdMs} ms`;
  if (s.stalls === 0) return `no stall (${rule}); p99 ${s.p99OutsideMs.toFixed(1)} ms`;
  return (
    `${s.stalls} stalls in ${s.seconds.toFixed(0)} s (${rule}; the worst request in one ${s.worstMs.toFixed(1)} ms), ` +
    `holding ${s.slowInStalls} of the ${s.slow} requests over ${s.thresholdMs} ms; p99 of the ${s.requests - s.slowInStalls} requests outside them ${s.p99OutsideMs.toFixed(1)} ms`
  );
}
