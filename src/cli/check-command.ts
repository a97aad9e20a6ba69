import { createRuntime } from '../runtime.ts';
import { CliError } from './errors.ts';

/** `trackline check`: each connection's credentials and access, one ✓ or ✗ line per check. */
export async function runCheck(only?: string): Promise<number> {
  const runtime = await createRuntime({ role: 'cli', migrate: false });
  try {
    const connections = runtime.connections.all().filter((c) => !only || c.config.id === only);
    if (only && connections.length === 0) throw new CliError(`no connection "${only}" in ${runtime.env.TRACKLINE_CONFIG}`);
    if (connections.length === 0) {
      console.log(`no connections configured in ${runtime.env.TRACKLINE_CONFIG}`);
      return 0;
    }
    let failed = 0;
    for (const connection of connections) {
      console.log(`${connection.config.id} (${connection.config.tracker})`);
      let lines;
      try {
        lines = await connection.adapter().check();
      } catch (error) {
        lines = [{ ok: false, message: (error as Error).message }];
      }
      for (const line of lines) {
        if (!line.ok) failed++;
        console.log(`  ${line.ok ? '✓' : '✗'} ${line.message}${line.ok || !line.hint ? '' : `\n    → ${line.hint}`}`);
      }
    }
    return failed ? 1 : 0;
  } finally {
    await runtime.close();
  }
}
