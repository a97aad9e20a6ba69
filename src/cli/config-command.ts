import { stringify } from 'smol-toml';
import { parseEnv } from '../config/env.ts';
import { loadConfig } from '../config/load.ts';
import { CliError, UsageError } from './errors.ts';
import { maskSecrets } from './secret-mask.ts';

/**
 * `trackline config show`: the configuration Trackline runs with, after `${VAR}` interpolation and
 * with every default filled in, as TOML. Secrets are masked; `--include-secrets` prints them in
 * clear only to a terminal (never into a pipe, a file or a CI log) and says so on stderr.
 */
export async function runConfig(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number> {
  if (positionals.length !== 1 || positionals[0] !== 'show') throw new UsageError('expected: trackline config show');
  const includeSecrets = Boolean(values['include-secrets']);
  if (includeSecrets && !process.stdout.isTTY) {
    throw new CliError('--include-secrets prints secrets only to a terminal; standard output is a pipe or a file here');
  }
  const env = parseEnv();
  const config = loadConfig(env.TRACKLINE_CONFIG, process.env);
  if (includeSecrets) console.error('trackline config show: secrets are shown in clear (--include-secrets)');
  const shown = includeSecrets ? config : maskSecrets(config);
  console.log(
    `# effective configuration from ${env.TRACKLINE_CONFIG}, \${VAR} interpolated, defaults filled in${includeSecrets ? '' : ', secrets masked'}`,
  );
  console.log(stringify(shown));
  return 0;
}
