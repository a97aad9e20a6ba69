import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOGGER = fileURLToPath(new URL('../../src/support/logger.ts', import.meta.url));

/** Runs `body` in a fresh Node process with `log` (createLogger at info, default stdout); returns its stdout lines. */
function run(body: string): { msg: string; n?: number }[] {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};\nconst log = createLogger('info');\n${body}`;
  let out: string;
  try {
    out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  } catch (error) {
    out = (error as { stdout: string }).stdout;
  }
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; n?: number });
}

describe('batched stdout (log-destination.ts)', () => {
  it('writes every line, in order, when the process ends by itself', () => {
    const lines = run(`for (let n = 0; n < 2000; n++) log.info({ n }, 'line');`);
    expect(lines).toHaveLength(2000);
    expect(lines.map((l) => l.n)).toEqual([...Array(2000).keys()]);
  });

  it('keeps the last lines before process.exit()', () => {
    const lines = run(`log.info('first'); setTimeout(() => { log.info('second'); log.fatal('going down'); process.exit(3); }, 50);`);
    expect(lines.map((l) => l.msg)).toEqual(['first', 'second', 'going down']);
  });

  it('shows a line logged by an idle process while it is still running', async () => {
    const script = `import { createLogger } from ${JSON.stringify(LOGGER)};\ncreateLogger('info').info('idle'); setTimeout(() => {}, 5000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => resolve(chunk));
        child.on('exit', () => reject(new Error('the process ended before its line was written')));
      });
      expect(JSON.parse(line).msg).toBe('idle');
    } finally {
      child.kill();
    }
  });
});
