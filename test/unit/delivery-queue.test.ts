import { describe, expect, it } from 'vitest';
import { DeliveryQueue } from '../../sandbox/delivery-queue.ts';

describe('sandbox DeliveryQueue', () => {
  it('runs one key’s deliveries in order and other keys alongside; drain waits for all', async () => {
    const queue = new DeliveryQueue('test');
    const done: string[] = [];
    const deliver = (name: string, ms: number) => () => new Promise<void>((r) => setTimeout(() => r(void done.push(name)), ms));
    queue.enqueue('issue-1', deliver('1a', 30));
    queue.enqueue('issue-1', deliver('1b', 1));
    queue.enqueue('issue-2', deliver('2a', 5));
    await queue.drain();
    expect(done).toEqual(['2a', '1a', '1b']);
  });

  it('dispose ends sleeps at once and aborts requests in flight, so drain resolves', async () => {
    const queue = new DeliveryQueue('test');
    let aborted = false;
    let slept = false;
    queue.enqueue('a', () =>
      queue.withAbort((signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(void (aborted = true))))),
    );
    queue.enqueue('b', async () => {
      await queue.sleep(60_000);
      slept = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    queue.dispose();
    await queue.drain();
    expect([aborted, slept, queue.disposed]).toEqual([true, true, true]);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('withAbort aborts after its timeout', async () => {
    const queue = new DeliveryQueue('test');
    const reason = await queue.withAbort(
      (signal) => new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('aborted'))),
      10,
    );
    expect(reason).toBe('aborted');
  });
});
