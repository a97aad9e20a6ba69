import { parseArgs } from 'node:util';
import { commands, type Command } from './commands.ts';
import { CliError, UsageError } from './errors.ts';
import { applyApiHeapSettings } from './api-heap.ts';

const USAGE = `trackline: two-way sync between work items and issue trackers

Usage: trackline <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`)
  .join('\n')}

Run "trackline <command> --help" for a command's options.
Environment: DATABASE_URL, REDIS_URL, PORT, LOG_LEVEL, TRACKLINE_CONFIG (default ./trackline.toml).
Exit codes: 0 ok, 1 failure, 2 usage.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  // Before the api's modules load and allocate: see api-heap.ts.
  if (name === 'api') applyApiHeapSettings();
  const command: Command | undefined = commands[name];
  if (!command) {
    console.error(`trackline: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    console.error(`trackline ${name}: ${(error as Error).message}\n\n${command.usage}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`trackline ${name}: ${error.message}\n\n${command.usage}`);
      return 2;
    }
    if (error instanceof CliError || isOneLine(error)) {
      console.error(`trackline ${name}: ${(error as Error).message}`);
      return 1;
    }
    console.error(`trackline ${name}: ${(error as Error).stack ?? error}`);
    return 1;
  }
}

/** Start-up errors (config, unreachable servers) are already one clear line. */
function isOneLine(error: unknown): boolean {
  const name = (error as Error)?.constructor?.name ?? '';
  return /ConfigError|EnvError|MissingVariableError|DatabaseUnavailableError|RedisUnavailableError|UnsupportedTrackerError/.test(name);
}

const code = await main(process.argv.slice(2));
// Long-running commands (start, api, worker, sandbox) return -1 and exit on a signal instead.
if (code >= 0) process.exit(code);
