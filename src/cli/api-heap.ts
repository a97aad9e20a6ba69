import v8 from 'node:v8';

/**
 * V8 heap setting for `trackline api` (issue 17, section 4: the api's resident memory).
 *
 * The api keeps little alive (about 30 MB of old space: code, config, pools) but allocates fast
 * under load (request bodies, JSON, SQL parameters). V8 lets the old generation grow to up to
 * about four times what the last full GC kept before it collects again: under the bench's wrk
 * phases, 85-117 MB of old space with 30 MB of it alive, and 235-255 MB peak RSS. With the growth
 * held to 20 % the old space peaked at 35-37 MB and RSS at 167-171 MB, for the same CPU per
 * request within the noise of a shared machine (numbers and commands in the commit message).
 *
 * `--heap-growing-percent` is one of the V8 flags read at every GC, not only at start, so it can
 * be set here, as the command starts, rather than on Node's command line (`trackline api` is
 * started as `node bin/trackline.js api` or `npm run trackline -- api`).
 *
 * A flag given to Node (its command line or NODE_OPTIONS) wins: `node --heap-growing-percent=0
 * bin/trackline.js api` runs with V8's own dynamic factor. The young generation is left at V8's
 * default (semi-spaces up to 16 MB): capping them at 4 MB as well took the peak to 136-141 MB,
 * but the two together cost 25-35 % more CPU per request than V8's defaults; a deployment short
 * of memory can still choose that with `node --max-semi-space-size=4 bin/trackline.js api`.
 */
const HEAP_GROWING_PERCENT = 20;

export function applyApiHeapSettings(): void {
  const { heapGrowingPercent } = apiHeapSettings([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]);
  if (heapGrowingPercent !== undefined) v8.setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`);
}

/** What to apply, given the flags Node was started with: each setting the user has not made. */
export function apiHeapSettings(nodeFlags: string[]): { heapGrowingPercent?: number } {
  const given = nodeFlags.map((arg) => arg.replace(/_/g, '-'));
  const userSets = (flag: string) => given.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  return userSets('--heap-growing-percent') ? {} : { heapGrowingPercent: HEAP_GROWING_PERCENT };
}
