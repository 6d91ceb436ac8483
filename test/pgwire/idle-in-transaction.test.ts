import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('--idle-in-transaction-timeout-ms', () => {
  const server = useTestServer(['--idle-in-transaction-timeout-ms', '300']);

  it('closes a session left idle inside a transaction with FATAL 25P03, dropping its staged changes', async () => {
    const c = new pg.Client({ host: server().host, port: server().port, user: 'materialize', database: 'materialize' });
    const errors: pg.DatabaseError[] = [];
    c.on('error', (e) => errors.push(e as pg.DatabaseError));
    await c.connect();
    await c.query('BEGIN');
    await c.query("CREATE SECRET idle_staged AS 'x'");
    await sleep(900);
    // The server's FATAL first (node-postgres then reports the closed connection too).
    expect([errors[0]?.code, errors[0]?.message]).toEqual(['25P03', 'terminating connection due to idle-in-transaction timeout']);
    const other = await server().client();
    expect((await other.query("SELECT count(*)::int AS n FROM mz_secrets WHERE name = 'idle_staged'")).rows).toEqual([{ n: 0 }]);
    expect(await server().logText()).toMatch(/"code":"25P03"/);
  });

  it('leaves idle sessions outside a transaction, and busy ones inside, alone', async () => {
    const idle = await server().client();
    const busy = await server().client();
    await busy.query('BEGIN');
    for (let i = 0; i < 8; i++) {
      await sleep(120);
      await busy.query('SELECT 1');
    }
    await busy.query("CREATE SECRET idle_kept AS 'x'");
    await busy.query('COMMIT');
    await sleep(500);
    expect((await idle.query("SELECT count(*)::int AS n FROM mz_secrets WHERE name = 'idle_kept'")).rows).toEqual([{ n: 1 }]);
    expect((await busy.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });
});
