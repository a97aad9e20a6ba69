import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresError, startEmbeddedPostgres } from '../../src/support/embedded-postgres.ts';

/**
 * The private PostgreSQL of the demo, `start --embedded` and the bare-machine tests: it starts
 * (as root too, as another user), keeps its data across restarts, and each bad set-up is one
 * line that says what is wrong.
 */
const root = mkdtempSync(join(tmpdir(), 'trackline-embedded-'));
chmodSync(root, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

describe('embedded PostgreSQL', () => {
  it('starts, answers, keeps its data across a restart and stops', async () => {
    const dataDir = join(root, 'data');
    const first = await startEmbeddedPostgres({ dataDir, settings: { fsync: 'off' } });
    try {
      expect(first.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      const sql = postgres(first.url, { max: 1, onnotice: () => {} });
      await sql`create table kept (v int)`;
      await sql`insert into kept values (42)`;
      const [{ user }] = await sql<{ user: string }[]>`select current_user as user`;
      expect(user).toBe('postgres');
      await sql.end();
      // As root the server runs as another user, who owns the data directory (PostgreSQL checks).
      if (isRoot) expect(statSync(dataDir).uid).not.toBe(0);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    } finally {
      await first.stop();
    }
    await expect(postgres(first.url, { max: 1, connect_timeout: 1 })`select 1`).rejects.toThrow();
    const second = await startEmbeddedPostgres({ dataDir });
    try {
      const sql = postgres(second.url, { max: 1, onnotice: () => {} });
      expect(await sql`select v from kept`).toEqual([{ v: 42 }]);
      await sql.end();
    } finally {
      await second.stop();
    }
    // initdb and two starts: seconds on a quiet machine, much longer on a loaded one.
  }, 120_000);

  it('a port that is taken is one line naming it', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as { port: number };
    try {
      await expect(startEmbeddedPostgres({ dataDir: join(root, 'taken'), port })).rejects.toThrow(
        new EmbeddedPostgresError(`embedded PostgreSQL: port ${port} on 127.0.0.1 is taken by another program`),
      );
    } finally {
      blocker.close();
    }
  });

  it('a server that fails to start says so with the last lines of its log', async () => {
    const error = await startEmbeddedPostgres({ dataDir: join(root, 'bad'), settings: { shared_buffers: 'plenty' } }).catch((e) => e);
    expect(error).toBeInstanceOf(EmbeddedPostgresError);
    expect(error.message).toMatch(/did not start; its log ends: .*invalid value for parameter "shared_buffers": "plenty"/);
    expect(error.message).not.toContain('\n');
  }, 120_000);

  it('a data directory the server cannot write is one line', async () => {
    const locked = join(root, 'locked');
    mkdirSync(locked);
    // As root the server's user is kept out by the folder above; otherwise the folder is read-only.
    chmodSync(locked, isRoot ? 0o700 : 0o500);
    const error = await startEmbeddedPostgres({ dataDir: join(locked, 'data') }).catch((e) => e);
    expect(error).toBeInstanceOf(EmbeddedPostgresError);
    expect(error.message).toMatch(isRoot ? /cannot reach .*locked\/data/ : /cannot create the data directory .*locked\/data/);
    chmodSync(locked, 0o755);
  });
});
