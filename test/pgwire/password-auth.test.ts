/** Password authentication (SCRAM-SHA-256, channel binding on TLS) with the clients users bring. */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChildExpectingExit, startChild } from '../support/child-server.js';
import { errorOf, startTestServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);
const FIXTURES = new URL('../fixtures/clients/', import.meta.url).pathname;
const CANARY = 'canary-Pa55word-7f3e';

describe('--auth password', () => {
  let dir: string;
  let server: TestServer;
  const url = (user: string, params = 'sslmode=disable') => `postgres://${user}@127.0.0.1:${server.port}/materialize?${params}`;
  const psql = (user: string, password: string, params?: string) =>
    run('psql', [url(user, params), '-XAtc', 'SELECT current_user'], { env: { ...process.env, PGPASSWORD: password } }).then(
      (r) => r.stdout.trim(),
      (e: { stderr: string }) => e.stderr.trim(),
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iamlink-auth-'));
    await writeFile(join(dir, 'bootstrap'), `${CANARY}\n`, { mode: 0o600 });
    server = await startTestServer(['--auth', 'password', '--bootstrap-password-file', join(dir, 'bootstrap')]);
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('psql logs in with the bootstrap password, and a wrong one gets FATAL 28P01', async () => {
    expect(await psql('materialize', CANARY)).toBe('materialize');
    expect(await psql('materialize', 'not-it')).toMatch(/FATAL: {2}password authentication failed for user "materialize"$/);
  });

  it('an unknown user gets exactly the same answer as a wrong password', async () => {
    const unknown = await errorOf(new pg.Client({ host: '127.0.0.1', port: server.port, user: 'nobody_here', database: 'materialize', password: CANARY }).connect());
    const wrong = await errorOf(new pg.Client({ host: '127.0.0.1', port: server.port, user: 'materialize', database: 'materialize', password: 'nope' }).connect());
    expect(unknown).toEqual({ ...wrong, message: 'password authentication failed for user "nobody_here"' });
    expect(wrong).toMatchObject({ code: '28P01', message: 'password authentication failed for user "materialize"' });
  });

  it('node-postgres, psycopg 3 and JDBC log in with SCRAM-SHA-256', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'materialize', database: 'materialize', password: CANARY });
    await c.connect();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.end();
    const py = `import psycopg, sys\nwith psycopg.connect(sys.argv[1]) as c:\n    print('user', c.execute('SELECT current_user').fetchone()[0])\n`;
    expect((await run('/usr/bin/python3', ['-c', py, `host=127.0.0.1 port=${server.port} user=materialize dbname=materialize password=${CANARY}`])).stdout.trim()).toBe('user materialize');
    const pyWrong = await run('/usr/bin/python3', ['-c', py, `host=127.0.0.1 port=${server.port} user=materialize dbname=materialize password=wrong`]).then(() => '', (e: { stderr: string }) => e.stderr);
    expect(pyWrong).toMatch(/password authentication failed for user "materialize"/);
    const jdbc = `jdbc:postgresql://127.0.0.1:${server.port}/materialize?sslmode=disable`;
    const java = (password: string) => run('java', ['-cp', '/usr/share/java/postgresql.jar', join(FIXTURES, 'JdbcPassword.java'), jdbc, 'materialize', password]).then((r) => r.stdout.trim());
    expect(await java(CANARY)).toBe('user materialize');
    expect(await java('wrong')).toBe('refused 28P01 FATAL: password authentication failed for user "materialize"');
  });

  it('the password is nowhere: not in the data directory, the log or the system views', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'materialize', database: 'materialize', password: CANARY });
    await c.connect();
    const views = await c.query("SELECT * FROM mz_catalog.mz_roles");
    await c.end();
    expect(JSON.stringify(views.rows)).not.toContain(CANARY);
    expect(JSON.stringify(views.rows)).not.toContain('SCRAM-SHA-256');
    expect(await server.logText()).not.toContain(CANARY);
    const files = await readdir(server.dataDir, { recursive: true, withFileTypes: true });
    for (const f of files.filter((e) => e.isFile())) {
      const bytes = await readFile(join(f.parentPath, f.name));
      expect(bytes.includes(Buffer.from(CANARY)), `${f.name} holds the password`).toBe(false);
    }
  });

  it('wrong passwords from one address are logged with it and slowed down, and others are served meanwhile', async () => {
    const other = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'materialize', database: 'materialize', password: CANARY });
    await other.connect();
    const attempts = Array.from({ length: 40 }, (_, i) =>
      errorOf(new pg.Client({ host: '127.0.0.1', port: server.port, user: 'materialize', database: 'materialize', password: `guess-${i}` }).connect()),
    );
    // Meanwhile a logged-in session is answered.
    expect((await other.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    expect((await Promise.all(attempts)).every((e) => e.code === '28P01')).toBe(true);
    await other.end();
    const delays = (await server.logText())
      .split('\n')
      .filter((l) => l.includes('"password authentication failed"'))
      .map((l) => JSON.parse(l) as { delayMs: number; remote: string });
    expect(delays.length).toBeGreaterThanOrEqual(40);
    expect(delays.every((d) => d.remote === '127.0.0.1')).toBe(true);
    // Sent at once, the guesses still wait in turn: the last waits for (about) all the others' delays.
    expect(Math.max(...delays.map((d) => d.delayMs))).toBeGreaterThanOrEqual(2000);
  });

  describe('over TLS', () => {
    let tlsDir: string;
    let tlsServer: TestServer;
    beforeAll(async () => {
      tlsDir = await mkdtemp(join(tmpdir(), 'iamlink-auth-tls-'));
      const ossl = (args: string[]) => run('openssl', args, { cwd: tlsDir });
      await ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ca']);
      await ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
      await writeFile(join(tlsDir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
      await ossl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext']);
      // A second server certificate signed with SHA-384: channel binding must hash it with SHA-384 (RFC 5929).
      await ossl(['x509', '-req', '-sha384', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server384.pem', '-days', '2', '-extfile', 'ext']);
      await writeFile(join(tlsDir, 'bootstrap'), `${CANARY}\n`);
      tlsServer = await startTestServer(['--auth', 'password', '--bootstrap-password-file', join(tlsDir, 'bootstrap'), '--tls-cert', join(tlsDir, 'server.pem'), '--tls-key', join(tlsDir, 'server.key')]);
    });
    afterAll(async () => {
      await tlsServer?.stop();
      await rm(tlsDir, { recursive: true, force: true });
    });

    it('psql with channel_binding=require binds SCRAM to the server certificate; without TLS it cannot', async () => {
      const at = (params: string) =>
        run('psql', [`postgres://materialize@localhost:${tlsServer.port}/materialize?${params}`, '-XAtc', 'SELECT current_user'], { env: { ...process.env, PGPASSWORD: CANARY } }).then(
          (r) => r.stdout.trim(),
          (e: { stderr: string }) => e.stderr.trim(),
        );
      expect(await at(`sslmode=verify-full&sslrootcert=${join(tlsDir, 'ca.pem')}&channel_binding=require`)).toBe('materialize');
      expect(await at('sslmode=disable&channel_binding=require')).toMatch(/channel binding/);
    });

    it('binds to a certificate signed with SHA-384 with that hash (psql prefers channel binding by default)', async () => {
      const server384 = await startTestServer(['--auth', 'password', '--bootstrap-password-file', join(tlsDir, 'bootstrap'), '--tls-cert', join(tlsDir, 'server384.pem'), '--tls-key', join(tlsDir, 'server.key')]);
      try {
        for (const binding of ['prefer', 'require']) {
          const { stdout } = await run('psql', [`postgres://materialize@localhost:${server384.port}/materialize?sslmode=verify-full&sslrootcert=${join(tlsDir, 'ca.pem')}&channel_binding=${binding}`, '-XAtc', 'SELECT current_user'], { env: { ...process.env, PGPASSWORD: CANARY } });
          expect(stdout.trim()).toBe('materialize');
        }
      } finally {
        await server384.stop();
      }
    });

    it('node-postgres with channel binding enabled logs in over TLS', async () => {
      const c = new pg.Client({
        host: 'localhost',
        port: tlsServer.port,
        user: 'materialize',
        database: 'materialize',
        password: CANARY,
        enableChannelBinding: true,
        ssl: { ca: await readFile(join(tlsDir, 'ca.pem'), 'utf8'), servername: 'localhost' },
      });
      await c.connect();
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await c.end();
    });
  });
});

describe('a password exchange left hanging, and a bootstrap password changed later', () => {
  it('is closed at the startup timeout like any unfinished startup', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iamlink-auth-hang-'));
    await writeFile(join(dir, 'bootstrap'), `${CANARY}\n`);
    const server = await startTestServer(['--auth', 'password', '--bootstrap-password-file', join(dir, 'bootstrap'), '--startup-timeout-ms', '400', '--max-connections', '2'], join(dir, 'data'));
    try {
      const { rawConnect } = await import('../support/raw-client.js');
      const { serialize } = await import('pg-protocol');
      const raw = await rawConnect(server.port);
      raw.send(serialize.startup({ user: 'materialize', database: 'materialize' }));
      await raw.waitFor((m) => m.name === 'authenticationSASL');
      // Never answer: the server must end it, with PostgreSQL's words.
      expect(await raw.waitFor((m) => m.name === 'error', 5000)).toMatchObject({ code: '57014', message: 'canceling authentication due to timeout' });
      await raw.closed;
    } finally {
      await server.stop();
    }
    // Restarted with another bootstrap password: the first stays, and the log says so.
    await writeFile(join(dir, 'bootstrap'), 'another-password\n');
    const again = await startTestServer(['--auth', 'password', '--bootstrap-password-file', join(dir, 'bootstrap')], join(dir, 'data'));
    try {
      expect(await again.logText()).toMatch(/the bootstrap password differs from the one set at the first start/);
      const c = new pg.Client({ host: '127.0.0.1', port: again.port, user: 'materialize', database: 'materialize', password: CANARY });
      await c.connect();
      await c.end();
    } finally {
      await again.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('who may listen with which authentication', () => {
  it('refuses trust beyond loopback unless told --allow-insecure-trust, and password without any password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iamlink-auth-flags-'));
    try {
      const trust = await runChildExpectingExit(['--listen', '0.0.0.0:0', '--auth', 'trust', '--data-dir', join(dir, 'a')]);
      expect(trust.code).toBe(2);
      expect(trust.stderr).toMatch(/beyond loopback and --auth is trust/);
      const defaulted = await runChildExpectingExit(['--listen', '0.0.0.0:0', '--data-dir', join(dir, 'b')]);
      expect(defaulted.stderr).toMatch(/--auth password, but no role has a password/);
      const insecure = await startChild(['--listen', '0.0.0.0:0', '--auth', 'trust', '--allow-insecure-trust', '--data-dir', join(dir, 'c')]);
      insecure.process.kill('SIGTERM');
      await insecure.exited;
      const viaEnv = await startChild(['--listen', '0.0.0.0:0', '--data-dir', join(dir, 'd')], { IAMLINK_BOOTSTRAP_PASSWORD: CANARY });
      expect(viaEnv.stdout()).not.toContain(CANARY);
      viaEnv.process.kill('SIGTERM');
      await viaEnv.exited;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
