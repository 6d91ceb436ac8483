import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { serialize } from 'pg-protocol';
import type { BackendMessage, CommandCompleteMessage, CopyDataMessage } from 'pg-protocol/dist/messages.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawSession, type RawClient } from '../support/raw-client.js';
import { catalogSnapshot, errorOf, freshDataDir, startTestServer, useTestServer } from '../support/server.js';

const run = promisify(execFile);
const WALKTHROUGH = fileURLToPath(new URL('../fixtures/walkthrough.sql', import.meta.url));

/** psql with ON_ERROR_STOP, no psqlrc; resolves with its output, rejects on a non-zero exit. */
function psql(url: string, args: string[], cwd?: string): Promise<{ stdout: string; stderr: string }> {
  return run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', url, ...args], { cwd, env: { ...process.env, PGCONNECT_TIMEOUT: '10' } });
}

/** Everything a raw session received up to the next ReadyForQuery, which is consumed. */
async function untilReady(c: RawClient): Promise<BackendMessage[]> {
  await c.waitFor((m) => m.name === 'readyForQuery');
  const at = c.messages.findIndex((m) => m.name === 'readyForQuery');
  return c.messages.splice(0, at + 1).slice(0, -1);
}

const copied = (ms: BackendMessage[]): string =>
  ms
    .filter((m): m is CopyDataMessage => m.name === 'copyData')
    .map((m) => m.chunk.toString())
    .join('');

describe('COPY ... TO STDOUT', () => {
  const server = useTestServer();
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  beforeAll(async () => {
    const c = await server().client();
    await c.query("CREATE SECRET copy_b AS 'x'");
    await c.query("CREATE SECRET copy_a AS 'y'");
  });

  it('psql COPY (SELECT ...) TO STDOUT WITH (FORMAT csv, HEADER) prints the rows, literals and all', async () => {
    // Literals in the query: a COPY is never lifted into parameters (PostgreSQL takes none in it).
    const { stdout } = await psql(server().url, [
      '-c',
      "COPY (SELECT name, 'it''s' AS quoted, 42 AS n FROM mz_secrets WHERE name LIKE 'copy\\_%' ORDER BY name) TO STDOUT WITH (FORMAT csv, HEADER)",
    ]);
    expect(stdout).toBe("name,quoted,n\ncopy_a,it's,42\ncopy_b,it's,42\n");
  });

  it("psql's \\copy (SELECT ...) TO a client file writes the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iamlink-copy-'));
    dirs.push(dir);
    const { stdout } = await psql(server().url, ['-c', "\\copy (SELECT name FROM mz_secrets WHERE name LIKE 'copy\\_%' ORDER BY 1) TO 'secrets.csv' WITH (FORMAT csv, HEADER)"], dir);
    expect(stdout.trim()).toBe('COPY 2');
    expect(await readFile(join(dir, 'secrets.csv'), 'utf8')).toBe('name\ncopy_a\ncopy_b\n');
  });

  it('COPY of a system view (and psql \\copy of one) runs as COPY of a SELECT from it', async () => {
    const { stdout } = await psql(server().url, [
      '-c',
      'COPY mz_catalog.mz_databases (name, owner_id) TO STDOUT',
      '-c',
      '\\copy mz_databases TO STDOUT WITH (FORMAT csv)',
      // The parser counts bytes, the text is characters: a multi-byte comment before the name.
      '-c',
      'COPY /* ü */ "mz_catalog".mz_databases (id) TO STDOUT',
    ]);
    expect(stdout).toBe('materialize\ts1\nu1,16384,materialize,s1,"{=U/s1,s1=UC/s1}"\nu1\n');
  });

  it('sees the uncommitted catalog changes of its own transaction', async () => {
    const { stdout } = await psql(server().url, ['-c', "BEGIN; CREATE SECRET copy_pending AS 'z'; COPY (SELECT name FROM mz_secrets WHERE name = 'copy_pending') TO STDOUT; ROLLBACK"]);
    expect(stdout).toContain('copy_pending\n');
    const c = await server().client();
    expect((await c.query("SELECT 1 FROM mz_secrets WHERE name = 'copy_pending'")).rowCount).toBe(0);
  });

  it('answers CopyOutResponse, CopyData, CopyDone and COPY n to a simple Query and to Parse/Bind/Execute', async () => {
    const c = await rawSession(server().port);
    c.messages.length = 0; // the startup's
    const sql = "COPY (SELECT name FROM mz_secrets WHERE name LIKE 'copy\\_%' ORDER BY 1) TO STDOUT";
    c.send(serialize.query(sql));
    const simple = await untilReady(c);
    expect(simple.map((m) => m.name)).toEqual(['copyOutResponse', 'copyData', 'copyData', 'copyDone', 'commandComplete']);
    expect(copied(simple)).toBe('copy_a\ncopy_b\n');
    expect((simple.at(-1) as CommandCompleteMessage).text).toBe('COPY 2');

    c.send(Buffer.concat([serialize.parse({ text: sql }), serialize.bind({}), serialize.describe({ type: 'P' }), serialize.execute({ rows: 1 }), serialize.sync()]));
    const extended = await untilReady(c);
    expect(extended.map((m) => m.name)).toEqual(['parseComplete', 'bindComplete', 'noData', 'copyOutResponse', 'copyData', 'copyData', 'copyDone', 'commandComplete']);
    expect(copied(extended)).toBe('copy_a\ncopy_b\n');
    c.end();
  });

  it('node-postgres (no copy stream) completes COPY TO STDOUT with its row count and goes on', async () => {
    const c = await server().client();
    const simple = await c.query("COPY (SELECT name FROM mz_secrets WHERE name LIKE 'copy\\_%') TO STDOUT");
    expect([simple.command, simple.rowCount, simple.rows]).toEqual(['COPY', 2, []]);
    const prepared = await c.query({ name: 'copy_prepared', text: 'COPY (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) TO STDOUT' });
    expect([prepared.command, prepared.rowCount]).toEqual(['COPY', 3]);
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('refuses COPY FROM (25006), server files and programs (42501), writes and forbidden calls inside, and changes nothing', async () => {
    const c = await server().client();
    const before = await catalogSnapshot(c);
    const file = join(tmpdir(), `iamlink-copy-${process.pid}-${Date.now()}.csv`);
    const cases: [string, string, RegExp][] = [
      ['COPY mz_secrets FROM STDIN', '25006', /^cannot execute COPY FROM: the catalog is read-only/],
      [`COPY (SELECT 1) TO '${file}'`, '42501', /^permission denied to COPY to a file$/],
      [`COPY mz_secrets TO '${file}'`, '42501', /^permission denied to COPY to a file$/],
      ["COPY mz_secrets FROM '/etc/passwd'", '42501', /^permission denied to COPY from a file$/],
      ["COPY (SELECT 1) TO PROGRAM 'touch /tmp/iamlink-pwned'", '42501', /^permission denied to COPY to or from an external program$/],
      ["COPY mz_secrets FROM PROGRAM 'id'", '42501', /^permission denied to COPY to or from an external program$/],
      ["COPY (DELETE FROM iamlink_internal.items RETURNING id) TO STDOUT", '25006', /^cannot execute DELETE/],
      ["COPY (SELECT pg_catalog.set_config('role', 'postgres', false)) TO STDOUT", '42501', /^permission denied for function set_config$/],
      ['COPY (SELECT * FROM iamlink_internal.secrets) TO STDOUT', '42501', /^permission denied for schema iamlink_internal$/],
      ['COPY iamlink_internal.secrets (ciphertext) TO STDOUT', '42501', /^permission denied for schema iamlink_internal$/],
      ['COPY U&"mz_secrets" TO STDOUT', '0A000', /^COPY of this relation is not supported$/],
    ];
    for (const [sql, code, message] of cases) {
      const e = await errorOf(c.query(sql));
      expect([sql, e.code]).toEqual([sql, code]);
      expect(e.message).toMatch(message);
    }
    expect(existsSync(file)).toBe(false);
    expect(existsSync('/tmp/iamlink-pwned')).toBe(false);
    expect(await catalogSnapshot(c)).toEqual(before);
  });
});

describe('the database is named materialize', () => {
  const server = useTestServer();

  it('current_database(), current_catalog and information_schema say materialize', async () => {
    const c = await server().client();
    const { rows } = await c.query('SELECT current_database() AS db, current_catalog AS catalog, (SELECT catalog_name FROM information_schema.information_schema_catalog_name) AS info');
    expect(rows).toEqual([{ db: 'materialize', catalog: 'materialize', info: 'materialize' }]);
  });

  it('psql \\l lists materialize, and no postgres database', async () => {
    const { stdout } = await psql(server().url, ['-c', '\\l']);
    expect(stdout).toContain('List of databases');
    expect(stdout).toMatch(/^ materialize\s+\|/m);
    expect(stdout).not.toMatch(/^ postgres\s+\|/m);
  });

  it('a data directory whose engine database is still postgres is renamed at start, its catalog kept', async () => {
    const dataDir = await freshDataDir();
    const first = await startTestServer([], dataDir);
    const c = await first.client();
    await c.query("CREATE SECRET kept_secret AS 'v'");
    await first.stop();
    // What a data directory made before the rename holds: the catalog in database postgres.
    const engine = await PGlite.create(join(dataDir, 'catalog'), { database: 'template1' });
    await engine.exec('ALTER DATABASE materialize RENAME TO postgres');
    await engine.close();

    const second = await startTestServer([], dataDir);
    try {
      const c2 = await second.client();
      expect((await c2.query("SELECT current_database() AS db, (SELECT count(*)::int FROM mz_secrets WHERE name = 'kept_secret') AS kept")).rows).toEqual([{ db: 'materialize', kept: 1 }]);
    } finally {
      await second.stop();
      await rm(join(dataDir, '..'), { recursive: true, force: true });
    }
  });
});

describe('the README walkthrough', () => {
  const server = useTestServer();

  it('runs twice through psql with ON_ERROR_STOP against one server', async () => {
    const first = await psql(server().url, ['-f', WALKTHROUGH]);
    expect(first.stdout.match(/^CREATE CONNECTION$/gm)).toHaveLength(2);
    const second = await psql(server().url, ['-f', WALKTHROUGH]);
    // The connection it keeps is there from the first run; the deliberate DROP SECRET refusal is shown again.
    expect(second.stderr).toMatch(/NOTICE: {2}connection "materialize\.public\.aws_conn" already exists, skipping/);
    expect(second.stderr.match(/ERROR: {2}cannot drop secret "aws_secret_key": still depended upon by connection "aws_keys"/g)).toHaveLength(1);
    expect(second.stdout).toMatch(/mz_test-prefix_u\d+/);
    expect(second.stdout).toContain('DROP SECRET');
  });
});
