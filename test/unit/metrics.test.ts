import { describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { createMetrics } from '../../src/metrics/metrics.ts';
import type { Sql } from '../../src/db/client.ts';
import type { Pacer } from '../../src/pacing/pacer.ts';
import { parseMetrics } from '../support/prometheus.ts';

/** A queue as the collectors use it: counts and the head of each state. */
function fakeQueue(name: string, behaviour: 'ok' | 'down' | 'hangs' = 'ok'): Queue {
  const answer = <T>(value: T): Promise<T> =>
    behaviour === 'down'
      ? Promise.reject(new Error('Connection is closed.'))
      : behaviour === 'hangs'
        ? new Promise<T>(() => {})
        : Promise.resolve(value);
  return {
    name,
    getJobCounts: () => answer({ waiting: 3, active: 1, delayed: 0, prioritized: 0, 'waiting-children': 0, failed: 2, completed: 7 }),
    getJobs: (states: string[]) => answer(states[0] === 'waiting' ? [{ timestamp: Date.now() - 4_000 }] : []),
  } as unknown as Queue;
}

function fakeSql(rows: unknown[] | Error): Sql {
  return ((..._args: unknown[]) => (rows instanceof Error ? Promise.reject(rows) : Promise.resolve(rows))) as unknown as Sql;
}

describe('scrape-time collectors', () => {
  it('read depths, ages and conflicts from their sources', async () => {
    const metrics = createMetrics({
      queues: () => [fakeQueue('reconcile')],
      sql: fakeSql([{ connection_id: 'plane-main', open: 2 }]),
      connectionIds: ['plane-main', 'gh-main'],
      processMetrics: false,
    });
    const m = parseMetrics((await metrics.render()).body);
    expect(m.badLines).toEqual([]);
    expect(m.value('trackline_queue_jobs', { queue: 'reconcile', state: 'waiting' })).toBe(3);
    expect(m.value('trackline_queue_jobs', { queue: 'reconcile', state: 'failed' })).toBe(2);
    const age = m.value('trackline_queue_oldest_job_age_seconds', { queue: 'reconcile', state: 'waiting' })!;
    expect(age).toBeGreaterThanOrEqual(3.9); // 4 s, less a clock-rounding millisecond
    expect(age).toBeLessThan(10);
    expect(m.value('trackline_queue_oldest_job_age_seconds', { queue: 'reconcile', state: 'failed' })).toBe(0);
    expect(m.value('trackline_conflicts_open', { connection: 'plane-main' })).toBe(2);
    expect(m.value('trackline_conflicts_open', { connection: 'gh-main' })).toBe(0);
    expect(m.value('trackline_scrape_source_up', { source: 'redis' })).toBe(1);
    expect(m.value('trackline_scrape_source_up', { source: 'postgres' })).toBe(1);
  });

  it('a source that is down or hangs does not fail the scrape: its up gauge says 0', async () => {
    const metrics = createMetrics({
      queues: () => [fakeQueue('reconcile', 'hangs')],
      sql: fakeSql(new Error('connect ECONNREFUSED')),
      connectionIds: ['plane-main'],
      processMetrics: false,
      timeoutMs: 50,
    });
    const started = Date.now();
    const m = parseMetrics((await metrics.render()).body);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(m.value('trackline_scrape_source_up', { source: 'redis' })).toBe(0);
    expect(m.value('trackline_scrape_source_up', { source: 'postgres' })).toBe(0);
    const down = createMetrics({
      queues: () => [fakeQueue('reconcile', 'down')],
      sql: fakeSql([]),
      connectionIds: [],
      processMetrics: false,
    });
    expect(parseMetrics((await down.render()).body).value('trackline_scrape_source_up', { source: 'redis' })).toBe(0);
  });
});

describe('in-process counters', () => {
  it('count tracker calls by status, keep the last budget seen, and turn pacer stats into counters', async () => {
    const stats = { calls: 5, pauses: 1, pausedMs: 2_000, lastPauseReason: '429' };
    const pacer = { options: { id: '0123456789abcdef' }, stats } as unknown as Pacer;
    const metrics = createMetrics({ queues: () => [], sql: fakeSql([]), connectionIds: [], pacers: () => [pacer], processMetrics: false });
    const call = { connectionId: 'plane-main', method: 'GET', path: '/x', durationMs: 120, at: new Date() };
    metrics.recordTrackerCall({ ...call, status: 200, rateLimit: { 'x-ratelimit-remaining': '41' } });
    metrics.recordTrackerCall({ ...call, status: 200, rateLimit: { 'x-ratelimit-remaining': '40' } });
    metrics.recordTrackerCall({ ...call, status: 429 });
    metrics.recordTrackerCall({ ...call, error: 'network error: ECONNRESET' });
    let m = parseMetrics((await metrics.render()).body);
    expect(m.value('trackline_tracker_calls_total', { connection: 'plane-main', status: '200' })).toBe(2);
    expect(m.value('trackline_tracker_calls_total', { connection: 'plane-main', status: '429' })).toBe(1);
    expect(m.value('trackline_tracker_calls_total', { connection: 'plane-main', status: 'error' })).toBe(1);
    expect(m.value('trackline_tracker_call_duration_seconds_count', { connection: 'plane-main' })).toBe(4);
    // A call without the header (the 429) leaves the last budget seen in place.
    expect(m.value('trackline_tracker_ratelimit_remaining', { connection: 'plane-main' })).toBe(40);
    expect(m.value('trackline_pacer_pauses_total', { pacer: '0123456789abcdef' })).toBe(1);
    expect(m.value('trackline_pacer_paused_seconds_total', { pacer: '0123456789abcdef' })).toBe(2);

    // Counters only grow by what grew since the last scrape.
    stats.pauses = 3;
    stats.pausedMs = 5_000;
    m = parseMetrics((await metrics.render()).body);
    expect(m.value('trackline_pacer_pauses_total', { pacer: '0123456789abcdef' })).toBe(3);
    expect(m.value('trackline_pacer_paused_seconds_total', { pacer: '0123456789abcdef' })).toBe(5);
    expect(m.value('trackline_pacer_calls_total', { pacer: '0123456789abcdef' })).toBe(5);
  });

  it('classify finished job attempts: completed, retried (another attempt follows), failed for good', async () => {
    const listeners: Record<string, (job: unknown) => void> = {};
    const worker = { name: 'reconcile', on: (event: string, listener: (job: unknown) => void) => (listeners[event] = listener) };
    const metrics = createMetrics({ queues: () => [], sql: fakeSql([]), connectionIds: [], processMetrics: false });
    metrics.watchWorker(worker as never);
    listeners.completed({ processedOn: Date.now() - 250 });
    listeners.failed({ processedOn: Date.now() - 50 });
    listeners.failed({ processedOn: Date.now() - 50, finishedOn: Date.now() });
    listeners.failed(undefined);
    const m = parseMetrics((await metrics.render()).body);
    expect(m.value('trackline_jobs_total', { queue: 'reconcile', outcome: 'completed' })).toBe(1);
    expect(m.value('trackline_jobs_total', { queue: 'reconcile', outcome: 'retried' })).toBe(1);
    expect(m.value('trackline_jobs_total', { queue: 'reconcile', outcome: 'failed' })).toBe(1);
    const sum = m.value('trackline_job_duration_seconds_sum', { queue: 'reconcile', outcome: 'completed' })!;
    expect(sum).toBeGreaterThanOrEqual(0.25);
    expect(sum).toBeLessThan(1);
  });
});
