/**
 * Catalog changes through drivers that wrap statements in a transaction by default (the issue:
 * "DDL from drivers fails by default ... 25001"): psycopg2, psycopg 3, SQLAlchemy, JDBC with
 * autocommit off, and `psql -1`. Each client fixture prints what it saw; every test then checks
 * what the catalog holds from a separate node-postgres session.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestServer, type TestServer } from '../support/server.js';

const execFileAsync = promisify(execFile);
const FIXTURES = fileURLToPath(new URL('../fixtures/clients/', import.meta.url));
// Debian's packages (python3-psycopg2, python3-psycopg, python3-sqlalchemy,
// libpostgresql-jdbc-java, postgresql-client), which .ci/run installs.
const PYTHON = '/usr/bin/python3';
const JDBC_JAR = '/usr/share/java/postgresql.jar';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a client to its end, whatever its exit status (asserted by the caller). */
async function runClient(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, { env: { ...process.env, PGCONNECT_TIMEOUT: '10', ...env }, timeout: 50_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** What went wrong, for a failure message: the client's output and the server's log lines. */
async function diagnosis(server: TestServer, ran: Ran): Promise<string> {
  const log = (await server.logText()).split('\n').slice(-60).join('\n');
  return `exit ${ran.code}\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr.slice(-8000)}\n--- server log (last lines)\n${log}`;
}

/** The client's one JSON line (stdout), or a failure carrying everything it printed. */
async function jsonOf(server: TestServer, ran: Ran): Promise<Record<string, any>> {
  if (ran.code !== 0) throw new Error(`the client failed: ${await diagnosis(server, ran)}`);
  try {
    return JSON.parse(ran.stdout.trim().split('\n').at(-1) ?? '') as Record<string, any>;
  } catch {
    throw new Error(`the client printed no JSON: ${await diagnosis(server, ran)}`);
  }
}

describe('catalog changes from drivers with autocommit off', () => {
  const server = useTestServer();
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  /** Secrets and connections named `prefix...`, read from a separate node-postgres session. */
  async function catalogOf(prefix: string): Promise<{ secrets: Record<string, string>; connections: Record<string, string> }> {
    const c = await server().client();
    try {
      const pick = (rows: { id: string; name: string }[]) => Object.fromEntries(rows.filter((r) => r.name.startsWith(prefix)).map((r) => [r.name, r.id]));
      return {
        secrets: pick((await c.query('SELECT id, name FROM mz_secrets ORDER BY name')).rows),
        connections: pick((await c.query('SELECT id, name FROM mz_connections ORDER BY name')).rows),
      };
    } finally {
      await c.end();
    }
  }

  it('psycopg2: commit, rollback, a failed statement and `with conn:`', async () => {
    const p = 'ptwo_';
    const out = await jsonOf(server(), await runClient(PYTHON, [join(FIXTURES, 'psycopg2_transactions.py'), server().url, p]));
    expect(out.autocommit_default).toBe(false);
    expect(out.commit).toEqual({
      ok: true,
      status_after_create: 'intrans',
      inside: [`${p}c1`, `${p}s1`],
      observer_before_commit: [],
      status_after_commit: 'idle',
      observer_after_commit: [`${p}c1`, `${p}s1`],
    });
    expect(out.rollback).toEqual({ ok: true, inside: [`${p}c1`, `${p}c2`, `${p}s1`, `${p}s2`], status_after_rollback: 'idle', after: [`${p}c1`, `${p}s1`] });
    expect(out.failing).toMatchObject({
      ok: true,
      raised: { sqlstate: '42710', class: 'DuplicateObject' },
      status_after_error: 'inerror',
      next_statement: { sqlstate: '25P02', class: 'InFailedSqlTransaction' },
      status_after_rollback: 'idle',
      after: [`${p}c1`, `${p}s1`],
    });
    expect(out.failing.raised.message).toContain(`${p}s1`);
    expect(out.with_conn_commit).toEqual({
      ok: true,
      inside: [`${p}c1`, `${p}c4`, `${p}s1`, `${p}s4`],
      observer_before_exit: [`${p}c1`, `${p}s1`],
      status_after_exit: 'idle',
      observer_after_exit: [`${p}c1`, `${p}c4`, `${p}s1`, `${p}s4`],
    });
    expect(out.with_conn_exception).toEqual({
      ok: true,
      inside: [`${p}c1`, `${p}c4`, `${p}s1`, `${p}s4`, `${p}s5`],
      raised: 'application error',
      status_after_exit: 'idle',
      after: [`${p}c1`, `${p}c4`, `${p}s1`, `${p}s4`],
    });
    const catalog = await catalogOf(p);
    expect(Object.keys(catalog.secrets)).toEqual([`${p}s1`, `${p}s4`]);
    expect(Object.keys(catalog.connections)).toEqual([`${p}c1`, `${p}c4`]);
  });

  it('psycopg 3: commit, rollback, a failed statement, transaction() blocks and server-side parameters', async () => {
    const p = 'pthree_';
    const out = await jsonOf(server(), await runClient(PYTHON, [join(FIXTURES, 'psycopg3_transactions.py'), server().url, p]));
    expect(out.autocommit_default).toBe(false);
    // Inside the transaction a parameterized (and, after five runs, prepared) read sees the
    // pending secret, with the id COMMIT keeps; another session sees nothing until COMMIT.
    expect(out.commit).toMatchObject({
      ok: true,
      status_after_create: 'intrans',
      pending_secret: [[expect.stringMatching(/^u\d+$/), `${p}s1`]],
      pending_connection: [[expect.stringMatching(/^u\d+$/), `${p}c1`, 'aws']],
      observer_before_commit: [],
      status_after_commit: 'idle',
      observer_after_commit: [`${p}c1`, `${p}s1`],
    });
    expect(out.commit.secret_after_commit).toEqual(out.commit.pending_secret);
    expect(out.rollback).toEqual({ ok: true, pending_secret_names: [`${p}s2`], status_after_rollback: 'idle', after: [`${p}c1`, `${p}s1`] });
    expect(out.failing).toMatchObject({
      ok: true,
      raised: { sqlstate: '42710', class: 'DuplicateObject', message: `secret "materialize.public.${p}s1" already exists` },
      status_after_error: 'inerror',
      next_statement: { sqlstate: '25P02', class: 'InFailedSqlTransaction' },
      status_after_rollback: 'idle',
      after: [`${p}c1`, `${p}s1`],
    });
    const committed = [`${p}c1`, `${p}c4`, `${p}s1`, `${p}s4`];
    expect(out.block_commit).toMatchObject({
      ok: true,
      pending_secret_names: [`${p}s4`],
      observer_before_exit: [`${p}c1`, `${p}s1`],
      status_after_exit: 'idle',
      observer_after_exit: committed,
    });
    expect(out.block_exception).toEqual({ ok: true, pending_secret_names: [`${p}s5`], raised: 'application error', status_after_exit: 'idle', after: committed });
    expect(out.block_failing).toEqual({
      ok: true,
      raised: { sqlstate: '42704', class: 'UndefinedObject', message: `unknown catalog item '${p}missing'` },
      status_after_exit: 'idle',
      after: committed,
    });
    expect(out.connection_context).toEqual({ ok: true, status_in_block: 'intrans', observer_before_exit: committed, observer_after_exit: [...committed, `${p}s7`] });

    const catalog = await catalogOf(p);
    expect(Object.keys(catalog.secrets)).toEqual([`${p}s1`, `${p}s4`, `${p}s7`]);
    expect(Object.keys(catalog.connections)).toEqual([`${p}c1`, `${p}c4`]);
    expect(catalog.secrets[`${p}s1`]).toBe(out.commit.pending_secret[0][0]);
    expect(catalog.connections[`${p}c1`]).toBe(out.commit.pending_connection[0][0]);
    // The external id shown inside the transaction is the one the committed connection has.
    const [id, externalId] = out.block_commit.pending_connection[0] as [string, string];
    expect(externalId).toMatch(/^mz_.+_u\d+$/);
    expect(catalog.connections[`${p}c4`]).toBe(id);
    const c = await server().client();
    try {
      const { rows } = await c.query('SELECT a.external_id FROM mz_internal.mz_aws_connections a JOIN mz_connections c ON a.id = c.id WHERE c.name = $1', [`${p}c4`]);
      expect(rows).toEqual([{ external_id: externalId }]);
    } finally {
      await c.end();
    }
  });

  it("SQLAlchemy on psycopg2: engine.begin() commits, an exception inside it rolls back, and the dialect's own queries at connect succeed", async () => {
    const p = 'sqla_';
    const ran = await runClient(PYTHON, [join(FIXTURES, 'sqlalchemy_transactions.py'), server().host, String(server().port), p]);
    const out = await jsonOf(server(), ran);
    expect(out.version).toMatch(/^(1\.4|2\.)/);
    expect(out.first_connect).toMatchObject({ ok: true, default_isolation_level: 'READ COMMITTED' });
    expect(out.first_connect.server_version_info.length).toBeGreaterThanOrEqual(2);
    expect(out.begin_commit).toEqual({ ok: true, pending: [`${p}s1`], observer_before_commit: [], observer_after_commit: [`${p}c1`, `${p}s1`] });
    expect(out.begin_exception).toEqual({ ok: true, pending: [`${p}c2`], raised: 'application error', after: [`${p}c1`, `${p}s1`] });
    expect(out.begin_failing).toEqual({
      ok: true,
      raised: { class: 'ProgrammingError', sqlstate: '42710', message: `ERROR:  secret "materialize.public.${p}s1" already exists`, statement: `CREATE SECRET ${p}s1 AS 'duplicate'` },
      after: [`${p}c1`, `${p}s1`],
    });
    // What SQLAlchemy's sessions sent, from the server's log (its sessions are named by
    // application_name): each of the dialect's connect-time queries answered, and nothing
    // failed but the duplicate CREATE the fixture meant to fail.
    const lines = (await server().logText()).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const sessions = new Set(lines.filter((l) => l.msg === 'session started' && String(l.application).startsWith(p)).map((l) => l.session));
    expect(sessions.size).toBeGreaterThanOrEqual(2);
    const sent = lines.filter((l) => l.msg === 'statement' && sessions.has(l.session)).map((l) => ({ sql: String(l.sql).replace(/\s+/g, ' '), outcome: l.outcome }));
    for (const query of [/^select pg_catalog\.version\(\)$/, /^select current_schema\(\)$/, /^show standard_conforming_strings$/, /^show transaction isolation level$/, /FROM pg_type t JOIN pg_namespace ns ON typnamespace = ns\.oid WHERE typname = /]) {
      const seen = sent.filter((s) => query.test(s.sql));
      expect(seen.length, `${query} in ${JSON.stringify(sent)}`).toBeGreaterThan(0);
      expect(seen.every((s) => s.outcome === 'ok'), JSON.stringify(seen)).toBe(true);
    }
    expect(sent.filter((s) => s.outcome !== 'ok')).toEqual([{ sql: `CREATE SECRET ${p}s1 AS '<REDACTED>'`, outcome: '42710' }]);
    const catalog = await catalogOf(p);
    expect(Object.keys(catalog.secrets)).toEqual([`${p}s1`]);
    expect(Object.keys(catalog.connections)).toEqual([`${p}c1`]);
  });

  it('JDBC with setAutoCommit(false): commit, rollback, a failed statement and a PreparedStatement reading the transaction', async () => {
    const p = 'jdbctx_';
    const classes = await mkdtemp(join(tmpdir(), 'iamlink-jdbc-tx-'));
    dirs.push(classes);
    const compiled = await runClient('javac', ['-cp', JDBC_JAR, '-d', classes, join(FIXTURES, 'JdbcTransactions.java')]);
    expect(compiled.code, compiled.stderr).toBe(0);
    const url = `jdbc:postgresql://${server().host}:${server().port}/materialize?sslmode=disable&ApplicationName=${p}`;
    const ran = await runClient('java', ['-cp', `${classes}:${JDBC_JAR}`, 'JdbcTransactions', url, p]);
    if (ran.code !== 0 || !/^done$/m.test(ran.stdout) || /^error /m.test(ran.stdout)) throw new Error(`JDBC: ${await diagnosis(server(), ran)}`);
    // "key value" lines; "done" alone.
    const seen = new Map(ran.stdout.trim().split('\n').map((l) => (l.includes(' ') ? [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)] : [l, '']) as [string, string]));
    const list = (...names: string[]) => `[${names.map((n) => p + n).join(', ')}]`;
    expect(Object.fromEntries(seen)).toEqual({
      autocommit: 'false',
      'commit.update_count_secret': '0',
      'commit.update_count_connection': '0',
      'commit.pending_secret': expect.stringMatching(new RegExp(`^u\\d+:${p}s1$`)),
      'commit.inside': list('c1', 's1'),
      'commit.observer_before_commit': '[]',
      'commit.observer_after_commit': list('c1', 's1'),
      'commit.secret_after_commit': seen.get('commit.pending_secret'),
      'rollback.pending_secret': expect.stringMatching(new RegExp(`^u\\d+:${p}s2$`)),
      'rollback.inside': list('c1', 'c2', 's1', 's2'),
      'rollback.after': list('c1', 's1'),
      'failing.raised': `42710 ERROR: secret "materialize.public.${p}s1" already exists`,
      'failing.next_statement': '25P02',
      'failing.after': list('c1', 's1'),
      'prepared_commit.pending_secret': expect.stringMatching(new RegExp(`^u\\d+:${p}s4$`)),
      'prepared_commit.after': list('c1', 's1', 's4'),
      final: list('c1', 's1', 's4'),
      done: '',
    });
    const catalog = await catalogOf(p);
    expect(catalog.secrets).toEqual({
      [`${p}s1`]: seen.get('commit.pending_secret')?.split(':')[0],
      [`${p}s4`]: seen.get('prepared_commit.pending_secret')?.split(':')[0],
    });
    expect(Object.keys(catalog.connections)).toEqual([`${p}c1`]);
  });

  const PSQL_SCRIPT = join(FIXTURES, 'psql_single_transaction.sql');
  const psql = (p: string, fail: boolean) => runClient('psql', ['-X', '-1', '-v', 'ON_ERROR_STOP=1', '-v', `p=${p}`, '-v', `fail=${fail}`, '-f', PSQL_SCRIPT, server().url]);

  it('psql -1 -v ON_ERROR_STOP=1 -f: several CREATEs and reads of them commit together', async () => {
    const p = 'psqlone_';
    const ran = await psql(p, false);
    if (ran.code !== 0) throw new Error(`psql: ${await diagnosis(server(), ran)}`);
    expect(ran.stdout.match(/^CREATE SECRET$/gm)).toHaveLength(2);
    expect(ran.stdout.match(/^CREATE CONNECTION$/gm)).toHaveLength(2);
    // The reads ran inside the transaction, before COMMIT, and saw its changes.
    const external = ran.stdout.match(new RegExp(`^ ${p}c2 \\| (mz_\\S+_u\\d+)$`, 'm'));
    expect(external, ran.stdout).not.toBeNull();
    expect(ran.stdout).toMatch(new RegExp(`^ ${p}s2\\n\\(1 row\\)$`, 'm'));
    expect(ran.stderr).toBe('');
    const catalog = await catalogOf(p);
    expect(Object.keys(catalog.secrets)).toEqual([`${p}s1`, `${p}s2`]);
    expect(Object.keys(catalog.connections)).toEqual([`${p}c1`, `${p}c2`]);
    const c = await server().client();
    try {
      const { rows } = await c.query('SELECT a.external_id FROM mz_internal.mz_aws_connections a JOIN mz_connections c ON a.id = c.id WHERE c.name = $1', [`${p}c2`]);
      expect(rows).toEqual([{ external_id: external?.[1] }]);
    } finally {
      await c.end();
    }
  });

  it('psql -1 -v ON_ERROR_STOP=1 -f: a failing statement in the middle exits non-zero and leaves nothing', async () => {
    const p = 'psqlfail_';
    const ran = await psql(p, true);
    expect(ran.code, await diagnosis(server(), ran)).toBe(3);
    // The statements before the failure ran (and were accepted) ...
    expect(ran.stdout).toBe('CREATE SECRET\nCREATE SECRET\nCREATE CONNECTION\n');
    expect(ran.stderr).toContain("ERROR:  unknown catalog item 'no_such_secret'");
    // ... and none of them survives.
    expect(await catalogOf(p)).toEqual({ secrets: {}, connections: {} });
  });
});
