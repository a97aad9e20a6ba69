import type { ChainableCommander, Redis } from 'ioredis';
import type { CoalesceState } from './coalesce-state.ts';

/** Coalescing flags as Redis keys with a TTL (SET NX PX), one pipelined round trip per step. */
export class RedisCoalesceState implements CoalesceState {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  private windowKey = (pair: string) => `${this.keyPrefix}:recent:${pair}`;
  private burstKey = (pair: string) => `${this.keyPrefix}:burst:${pair}`;

  async takeWindow(pair: string, windowMs: number): Promise<{ taken: boolean; burstLeftMs: number }> {
    const [taken, burstTtl] = await pipelined<[string | null, number]>(
      this.redis.pipeline().set(this.windowKey(pair), '1', 'PX', windowMs, 'NX').pttl(this.burstKey(pair)),
    );
    return { taken: taken === 'OK', burstLeftMs: Math.max(0, burstTtl) };
  }

  async joinBurst(pair: string, burstMs: number): Promise<number> {
    const [, windowTtl] = await pipelined<[unknown, number]>(
      this.redis.pipeline().set(this.burstKey(pair), '1', 'PX', burstMs, 'NX').pttl(this.windowKey(pair)),
    );
    return Math.max(0, windowTtl);
  }

  async releaseWindow(pair: string): Promise<void> {
    await this.redis.del(this.windowKey(pair));
  }

  async endBurst(pair: string): Promise<void> {
    await this.redis.del(this.burstKey(pair));
  }
}

/** The replies of a pipeline, in order; the first error among them is thrown. */
async function pipelined<T extends unknown[]>(pipeline: ChainableCommander): Promise<T> {
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([error]) => error);
  if (failed) throw failed[0];
  return replies.map(([, value]) => value) as T;
}
