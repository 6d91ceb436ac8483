import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChildExpectingExit, startChild, type ChildServer } from '../support/child-server.js';
import { freshDataDir } from '../support/server.js';

const STATE = `SELECT c.id, c.oid, c.name, aws.external_id, aws.assume_role_arn, aws.region
  FROM mz_connections c JOIN mz_internal.mz_aws_connections aws ON aws.id = c.id ORDER BY c.id`;

async function query(url: string, sql: string): Promise<unknown[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('durability of acknowledged DDL', () => {
  let dataDir: string;
  let args: string[];
  beforeAll(async () => {
    dataDir = await freshDataDir();
    args = ['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--log-level', 'warn'];
  });
  afterAll(async () => {
    await rm(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('keeps everything acknowledged across kill -9 and a clean SIGINT restart, with the same ids and external ids', async () => {
    let server: ChildServer = await startChild(args);
    const c = new pg.Client({ connectionString: server.url });
    c.on('error', () => undefined);
    await c.connect();
    await c.query("CREATE SECRET k AS 'value'");
    await c.query("CREATE CONNECTION keys TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET k)");
    for (let i = 0; i < 5; i++) await c.query(`CREATE CONNECTION role_${i} TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R${i}')`);
    await c.query("ALTER CONNECTION role_0 SET (REGION = 'eu-west-1')");
    await c.query('DROP CONNECTION role_4');
    const before = (await c.query(STATE)).rows;
    // Kill right after the last acknowledgement: no chance to flush anything more.
    server.process.kill('SIGKILL');
    expect(await server.exited).toBe('SIGKILL');
    await c.end().catch(() => undefined);

    server = await startChild(args);
    expect(await query(server.url, STATE)).toEqual(before);
    expect(before).toHaveLength(5);
    // The id counter survives too: a new item gets a larger id than any before.
    await query(server.url, "CREATE SECRET after_crash AS 'x'");
    const [{ id }] = (await query(server.url, "SELECT id FROM mz_secrets WHERE name = 'after_crash'")) as [{ id: string }];
    expect(Number(id.slice(1))).toBeGreaterThan(Math.max(...before.map((r) => Number((r as { id: string }).id.slice(1)))));

    server.process.kill('SIGINT');
    expect(await server.exited).toBe(0);
    server = await startChild(args);
    expect(await query(server.url, STATE)).toEqual(before);
    expect(await query(server.url, "SELECT name FROM mz_secrets ORDER BY name")).toEqual([{ name: 'after_crash' }, { name: 'k' }]);
    server.process.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('refuses a different explicit --aws-external-id-prefix or --environment-id for an existing data directory', async () => {
    const prefix = await runChildExpectingExit([...args, '--aws-external-id-prefix', 'another']);
    expect(prefix.code).toBe(2);
    expect(prefix.stderr).toContain("--aws-external-id-prefix is 'another' but this data directory was created with 'test-prefix'");
    const env = await runChildExpectingExit([...args, '--environment-id', 'other-env']);
    expect(env.code).toBe(2);
    expect(env.stderr).toContain("--environment-id is 'other-env' but this data directory was created with 'test-env'");
    // The same values as stored are fine.
    const same = await startChild([...args, '--aws-external-id-prefix', 'test-prefix']);
    same.process.kill('SIGTERM');
    expect(await same.exited).toBe(0);
  });

  it('refuses a second server on a data directory in use', async () => {
    const first = await startChild(args);
    const second = await runChildExpectingExit(args);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('is in use');
    first.process.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });
});

describe('configuration errors', () => {
  const cases: [string[], string][] = [
    [['--listen', 'nonsense'], 'invalid --listen (or IAMLINK_LISTEN): expected host:port'],
    [['--listen', '127.0.0.1:70000'], 'invalid --listen (or IAMLINK_LISTEN): port must be at most 65535'],
    [['--aws-connection-role-arn', 'arn:aws:iam::1:role/x'], 'invalid --aws-connection-role-arn (or IAMLINK_AWS_CONNECTION_ROLE_ARN)'],
    [['--log-level', 'loud'], 'invalid --log-level (or IAMLINK_LOG_LEVEL)'],
    [['--no-such-flag', 'x'], "Unknown option '--no-such-flag'"],
  ];
  it.each(cases)('%j exits 2 naming the flag', async (flags, message) => {
    const exit = await runChildExpectingExit(flags);
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain(message);
  });

  it('reads IAMLINK_* environment variables', async () => {
    const exit = await runChildExpectingExit([], { IAMLINK_LOG_LEVEL: 'loud' });
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain('invalid --log-level (or IAMLINK_LOG_LEVEL)');
  });
});
