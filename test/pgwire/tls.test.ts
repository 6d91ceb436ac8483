/**
 * TLS (docs/security... issue 10): SSLRequest answered 'S' and the session upgraded, with the real
 * clients users bring, against certificates the test makes itself with the openssl CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawConnect } from '../support/raw-client.js';
import { runChildExpectingExit } from '../support/child-server.js';
import { errorOf, startTestServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);
const FIXTURES = new URL('../fixtures/clients/', import.meta.url).pathname;

/** A CA, a server certificate for localhost and 127.0.0.1, a client CA and a client certificate of each. */
async function makeCertificates(dir: string): Promise<void> {
  const ossl = (args: string[]) => run('openssl', args, { cwd: dir });
  const ca = async (name: string) => ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`]);
  const leaf = async (name: string, signer: string, cn: string, ext?: string) => {
    await ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    if (ext) await writeFile(join(dir, `${name}.ext`), ext);
    await ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', ...(ext ? ['-extfile', `${name}.ext`] : [])]);
  };
  await Promise.all([ca('ca'), ca('client-ca'), ca('other-ca')]);
  await leaf('server', 'ca', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await leaf('client', 'client-ca', 'materialize');
  await leaf('stranger', 'other-ca', 'materialize');
}

describe('TLS', () => {
  let dir: string;
  const certs = (name: string) => join(dir, name);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iamlink-tls-'));
    await makeCertificates(dir);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  describe('--tls-mode require', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(['--tls-cert', certs('server.pem'), '--tls-key', certs('server.key'), '--tls-mode', 'require']);
    });
    afterAll(async () => server?.stop());
    const url = (params: string) => `postgres://materialize@localhost:${server.port}/materialize?${params}`;

    it('psql connects with sslmode=verify-full against the CA, and the session says TLS in the log', async () => {
      const { stdout } = await run('psql', [url(`sslmode=verify-full&sslrootcert=${certs('ca.pem')}`), '-XAtc', 'SELECT 1 AS one']);
      expect(stdout.trim()).toBe('1');
      expect(await server.logText()).toMatch(/"tls":"TLSv1\.[23]".*"msg":"session started"/);
    });

    it('psql with verify-full refuses a server whose certificate another CA signed', async () => {
      const err = await run('psql', [url(`sslmode=verify-full&sslrootcert=${certs('other-ca.pem')}`), '-XAtc', 'SELECT 1']).then(() => '', (e: { stderr: string }) => e.stderr);
      expect(err).toMatch(/certificate verify failed/);
    });

    it('node-postgres connects over TLS, verifying the server by name', async () => {
      const c = new pg.Client({ host: 'localhost', port: server.port, user: 'materialize', database: 'materialize', ssl: { ca: await readFile(certs('ca.pem'), 'utf8'), servername: 'localhost' } });
      await c.connect();
      try {
        expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        expect((c as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream.encrypted).toBe(true);
      } finally {
        await c.end();
      }
    });

    it('psycopg 3 connects with sslmode=verify-full', async () => {
      const script = `import psycopg, sys\nwith psycopg.connect(sys.argv[1]) as c:\n    print('one', c.execute('SELECT 1').fetchone()[0], c.info.pgconn.ssl_in_use)\n`;
      const { stdout } = await run('/usr/bin/python3', ['-c', script, `host=localhost port=${server.port} user=materialize dbname=materialize sslmode=verify-full sslrootcert=${certs('ca.pem')}`]);
      expect(stdout.trim()).toBe('one 1 True');
    });

    it('JDBC connects with sslmode=verify-full', async () => {
      const jdbc = `jdbc:postgresql://localhost:${server.port}/materialize?user=materialize&sslmode=verify-full&sslrootcert=${certs('ca.pem')}`;
      const { stdout } = await run('java', ['-cp', '/usr/share/java/postgresql.jar', join(FIXTURES, 'JdbcTls.java'), jdbc]);
      expect(stdout.trim()).toBe('one 1');
    });

    it('refuses a plain-text session with FATAL 28000 and says how to connect', async () => {
      const err = await errorOf(new pg.Client({ host: '127.0.0.1', port: server.port, user: 'materialize', database: 'materialize' }).connect());
      expect(err).toMatchObject({ code: '28000', message: 'this server accepts only TLS connections (--tls-mode require)' });
      expect(err.hint).toMatch(/sslmode=require/);
    });

    it('refuses bytes sent after SSLRequest before its answer (they would pass as encrypted)', async () => {
      const raw = await rawConnect(server.port);
      raw.send(Buffer.concat([serialize.requestSsl(), serialize.startup({ user: 'materialize', database: 'materialize' })]));
      const error = await raw.waitFor((m) => m.name === 'error');
      expect(error).toMatchObject({ code: '08P01', message: 'received unencrypted data after SSL request' });
      await raw.closed;
    });
  });

  it('allow (the default with a certificate): plain text and TLS both work', async () => {
    const server = await startTestServer(['--tls-cert', certs('server.pem'), '--tls-key', certs('server.key')]);
    try {
      for (const mode of ['disable', `verify-full&sslrootcert=${certs('ca.pem')}`]) {
        const { stdout } = await run('psql', [`postgres://materialize@localhost:${server.port}/materialize?sslmode=${mode}`, '-XAtc', 'SELECT 2']);
        expect(stdout.trim()).toBe('2');
      }
    } finally {
      await server.stop();
    }
  });

  it('without a certificate SSLRequest is answered N: sslmode=require fails, prefer goes on in plain text', async () => {
    const server = await startTestServer();
    try {
      const url = (mode: string) => `postgres://materialize@127.0.0.1:${server.port}/materialize?sslmode=${mode}`;
      const err = await run('psql', [url('require'), '-XAtc', 'SELECT 1']).then(() => '', (e: { stderr: string }) => e.stderr);
      expect(err).toMatch(/server does not support SSL/);
      expect((await run('psql', [url('prefer'), '-XAtc', 'SELECT 3'])).stdout.trim()).toBe('3');
    } finally {
      await server.stop();
    }
  });

  it('with --tls-ca, a client certificate from that CA is accepted, one from another CA refused', async () => {
    const server = await startTestServer(['--tls-cert', certs('server.pem'), '--tls-key', certs('server.key'), '--tls-ca', certs('client-ca.pem'), '--tls-mode', 'require']);
    try {
      const url = (cert: string) => `postgres://materialize@localhost:${server.port}/materialize?sslmode=verify-full&sslrootcert=${certs('ca.pem')}&sslcert=${certs(`${cert}.pem`)}&sslkey=${certs(`${cert}.key`)}`;
      expect((await run('psql', [url('client'), '-XAtc', 'SELECT 4'])).stdout.trim()).toBe('4');
      const refused = await run('psql', [url('stranger'), '-XAtc', 'SELECT 4']).then(() => '', (e: { stderr: string }) => e.stderr);
      expect(refused).toMatch(/client certificate rejected|certificate/);
      // No certificate at all is still a TLS session (certificates are not a login method yet).
      const plainTls = `postgres://materialize@localhost:${server.port}/materialize?sslmode=verify-full&sslrootcert=${certs('ca.pem')}`;
      expect((await run('psql', [plainTls, '-XAtc', 'SELECT 5'])).stdout.trim()).toBe('5');
    } finally {
      await server.stop();
    }
  });

  it('TLS settings that cannot work stop the server at start, naming the flag', async () => {
    expect((await runChildExpectingExit(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'd1'), '--tls-cert', certs('server.pem')])).stderr).toMatch(/--tls-cert and --tls-key/);
    expect((await runChildExpectingExit(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'd2'), '--tls-mode', 'require'])).stderr).toMatch(/--tls-mode needs --tls-cert/);
    const missing = await runChildExpectingExit(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'd3'), '--tls-cert', certs('nope.pem'), '--tls-key', certs('server.key')]);
    expect(missing.stderr).toMatch(/--tls-cert .*nope\.pem: no such file/);
  });

  it('a TLS handshake that never completes does not hold a session past the startup timeout', async () => {
    const server = await startTestServer(['--tls-cert', certs('server.pem'), '--tls-key', certs('server.key'), '--startup-timeout-ms', '500']);
    try {
      const raw = await rawConnect(server.port);
      raw.send(serialize.requestSsl());
      expect((await raw.expectRaw(1)).toString()).toBe('S');
      // Never start the handshake: the server must close on its own.
      await raw.closed;
      // And a real TLS client after it still works.
      const socket = tlsConnect({ host: 'localhost', port: server.port, ca: await readFile(certs('ca.pem')), servername: 'localhost' });
      socket.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 50));
      socket.destroy();
      const { stdout } = await run('psql', [`postgres://materialize@localhost:${server.port}/materialize?sslmode=verify-full&sslrootcert=${certs('ca.pem')}`, '-XAtc', 'SELECT 6']);
      expect(stdout.trim()).toBe('6');
    } finally {
      await server.stop();
    }
  });
});
