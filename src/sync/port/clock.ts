/**
 * The engine's clock, for the few decisions that depend on how long ago something happened.
 * The product uses the system clock; the simulator (test/sim) a virtual one.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
