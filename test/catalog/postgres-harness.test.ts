/**
 * The real-PostgreSQL test harness (test/support/postgres.ts): it starts, serves queries through
 * pg, keeps data and port across a restart, and leaves nothing behind when stopped.
 */
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

/** Resolves with the socket error code, or 'connected' if something still listens on the port. */
function probe(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

describe('real PostgreSQL harness', () => {
  let server: PostgresServer | undefined;
  afterAll(async () => {
    await server?.stop(); // no-op after the last test; cleans up if an earlier one failed
  });

  it('starts a server on 127.0.0.1 and answers through pg', { timeout: 60_000 }, async () => {
    server = await startPostgres({ settings: { application_name: 'harness test' } });
    expect(server.url).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres`);
    const c = await server.client();
    const { rows } = await c.query<{ version: string }>('SELECT version()');
    expect(rows[0]?.version).toMatch(/^PostgreSQL \d+/);
    // Extra settings reach the server (and a value with a space survives pg_ctl's shell).
    expect((await c.query('SHOW application_name')).rows[0]).toEqual({ application_name: 'harness test' });
    await c.query('CREATE TABLE t (id int PRIMARY KEY, name text)');
    await c.query("INSERT INTO t VALUES (1, 'one')");
    expect((await c.query('SELECT id, name FROM t')).rows).toEqual([{ id: 1, name: 'one' }]);
    await c.end();
  });

  it('keeps the row and the port across a restart', { timeout: 60_000 }, async () => {
    if (!server) throw new Error('no server: the first test failed');
    const port = server.port;
    await server.restart();
    expect(server.port).toBe(port);
    const c = await server.client();
    expect((await c.query('SELECT id, name FROM t')).rows).toEqual([{ id: 1, name: 'one' }]);
    expect((await c.query('SELECT inet_server_port() AS port')).rows[0]).toEqual({ port });
    await c.end();
  });

  it('stops: the data dir is gone and the port refuses connections', { timeout: 60_000 }, async () => {
    if (!server) throw new Error('no server: the first test failed');
    const { dataDir, port } = server;
    await server.client(); // left open on purpose: stop() must close it without an unhandled error
    await server.stop();
    expect(existsSync(dataDir)).toBe(false);
    expect(await probe(port)).toBe('ECONNREFUSED');
  });
});
