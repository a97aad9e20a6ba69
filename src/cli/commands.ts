import type { ParseArgsConfig } from 'node:util';
import { runServe } from './serve-command.ts';
import { runMigrate } from './migrate-command.ts';
import { runCheck } from './check-command.ts';
import { runSandbox } from './sandbox-command.ts';

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
    usage: 'Usage: trackline start [--port N]\n\nRuns the HTTP api and the sync workers together; the default for small installs.',
    options: { port: { type: 'string' } },
    run: (v) => runServe('all', v),
  },
  api: {
    summary: 'run only the HTTP api (scale it apart from the workers)',
    usage: 'Usage: trackline api [--port N]',
    options: { port: { type: 'string' } },
    run: (v) => runServe('api', v),
  },
  worker: {
    summary: 'run only the sync workers',
    usage: 'Usage: trackline worker [--concurrency N]',
    options: { concurrency: { type: 'string' } },
    run: (v) => runServe('worker', v),
  },
  migrate: {
    summary: 'create the database if missing and apply migrations',
    usage: 'Usage: trackline migrate',
    options: {},
    run: () => runMigrate(),
  },
  check: {
    summary: "test each connection's credentials and access",
    usage: 'Usage: trackline check [--connection ID]\n\nPrints one line per check: ✓ ok, ✗ failed with what to do. Exit 1 when any check fails.',
    options: { connection: { type: 'string' } },
    run: (v) => runCheck(v.connection as string | undefined),
  },
  sandbox: {
    summary: 'serve Plane-compatible tracker APIs in memory, for tests and first runs',
    usage:
      'Usage: trackline sandbox [--port N] [--rate-limit REQUESTS/SECONDS] [--api-key KEY]\n\n' +
      'Serves a Plane-compatible API (workspace "acme", project identifier "ET") and prints its URL,\n' +
      'API key and project id. --rate-limit 60/60 imitates Plane\'s default budget.',
    options: { port: { type: 'string' }, 'rate-limit': { type: 'string' }, 'api-key': { type: 'string' } },
    run: (v) => runSandbox(v),
  },
};
