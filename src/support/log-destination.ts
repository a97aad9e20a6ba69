import { writeSync } from 'node:fs';
import { pino } from 'pino';

/** Lines are written at the latest this long after they were logged... */
const FLUSH_AFTER_MS = 20;
/** ...or as soon as this many characters are waiting. */
const FLUSH_AT_CHARS = 16 * 1024;

/**
 * Standard output for pino, written in batches instead of once per line.
 *
 * pino's own stdout destination (an asynchronous SonicBoom) starts a write for every line while
 * none is in flight, and a busy api logs one access line per request: under bench/intake.ts's
 * webhook load those writes (each a libuv request, a hand-off to the thread pool and a callback)
 * were about a tenth of the api's own CPU, and batching them per event loop turn still left 7%.
 * Here lines wait up to FLUSH_AFTER_MS (or until FLUSH_AT_CHARS have gathered) and go out as one
 * write: a busy process writes a few dozen times a second whatever its request rate, and an idle
 * one shows each line within FLUSH_AFTER_MS. No line is dropped or reordered.
 *
 * Why not SonicBoom's own `minLength` with `periodicFlush`: its periodic flush writes whether or
 * not anything waits (an empty fs.write through the thread pool every period, 50 a second in an
 * idle process with these numbers), and `minLength` must stay below its 16 kB `maxWrite`. The
 * timer here runs only while lines wait, and the writes still go through SonicBoom.
 *
 * At exit the waiting lines are written synchronously, after SonicBoom's own (older) buffered
 * lines, so `log.fatal(...)` followed by `process.exit()` still leaves its line behind. Only a
 * process killed outright (SIGKILL, out of memory) loses up to FLUSH_AFTER_MS of lines, as it
 * already lost the write in flight.
 */
export function batchedStdout(): pino.DestinationStream & { flush(cb?: (error?: Error) => void): void } {
  const target = pino.destination({ dest: 1, sync: false });
  // SonicBoom's typings omit `destroyed`; it is set once the stream has ended (at exit).
  const ended = () => (target as unknown as { destroyed: boolean }).destroyed;
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending === '') return;
    const lines = pending;
    pending = '';
    if (ended()) writeQuietly(lines);
    else target.write(lines);
  };
  // Before SonicBoom's own exit handler (registered with the destination above): its buffer first.
  process.prependListener('exit', () => {
    if (timer) clearTimeout(timer);
    if (pending === '') return;
    try {
      if (!ended()) target.flushSync();
    } catch {
      // Not ready or already closed: the waiting lines are still written below.
    }
    writeQuietly(pending);
    pending = '';
  });
  return {
    // pino's logger.flush(): the waiting lines go to SonicBoom now.
    flush(cb?: (error?: Error) => void) {
      flush();
      cb?.();
    },
    write(line: string) {
      pending += line;
      if (pending.length >= FLUSH_AT_CHARS) flush();
      // Unref'd: waiting lines never keep a finished process alive (the exit handler writes them).
      else timer ??= setTimeout(flush, FLUSH_AFTER_MS).unref();
    },
  };
}

function writeQuietly(lines: string): void {
  try {
    writeSync(1, lines);
  } catch {
    // stdout closed (EPIPE): nothing left to tell.
  }
}
