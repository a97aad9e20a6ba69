/**
 * The simulation's time: milliseconds that move only when the simulation says so (each store
 * statement and tracker call takes a fixed virtual duration, and scenarios wait explicitly), so
 * a run is the same on every machine and at every load.
 */
export class VirtualClock {
  constructor(private t = Date.UTC(2026, 0, 5, 9, 0, 0)) {}

  now(): number {
    return this.t;
  }

  advance(ms: number): void {
    this.t += ms;
  }
}
