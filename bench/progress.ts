/**
 * Progress lines while the benchmarks run. A benchmark that prints nothing for a minute looks
 * hung; every phase says what it is doing and the elapsed time since `npm run bench` started.
 */
const started = Date.now();

export function progress(section: string, message: string): void {
  const elapsed = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[bench ${elapsed}s] ${section}: ${message}\n`);
}

/** Waits `ms`; benchmarks poll for conditions rather than subscribe, so this is everywhere. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns a truthy value, printing `describe()` every `everyMs`. Every wait
 * in the benchmarks is bounded: a broken build ends the run with a clear timeout, not a hang.
 */
export async function waitUntil<T>(
  section: string,
  check: () => Promise<T> | T,
  options: { timeoutMs: number; intervalMs?: number; everyMs?: number; describe?: () => Promise<string> | string; what: string },
): Promise<NonNullable<T>> {
  const deadline = Date.now() + options.timeoutMs;
  let lastPrint = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      const state = options.describe ? ` (${await options.describe()})` : '';
      throw new Error(`${section}: timed out after ${options.timeoutMs / 1000} s waiting for ${options.what}${state}`);
    }
    if (options.describe && Date.now() - lastPrint >= (options.everyMs ?? 1000)) {
      lastPrint = Date.now();
      progress(section, await options.describe());
    }
    await sleep(options.intervalMs ?? 50);
  }
}
