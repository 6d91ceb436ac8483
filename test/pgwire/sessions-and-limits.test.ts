/**
 * Per-session limits and server-wide ones, seen from clients: the result cap, a client that
 * never reads its answer, per-session statement_timeout, CancelRequest stopping an engine read,
 * bounded shutdown, a DDL portal executed twice, and login names PostgreSQL reserves.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { BackendKeyDataMessage, CommandCompleteMessage, DatabaseError } from 'pg-protocol/dist/messages.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rawConnect, rawSession, type RawClient } from '../support/raw-client.js';
import { catalogSnapshot, errorOf, startTestServer, useTestServer, type TestServer } from '../support/server.js';

/** A read that would run for minutes in the embedded engine (about 5 million rows a second). */
const HEAVY_READ = 'SELECT count(*) FROM generate_series(1, 2000000000)';
/** A read of about a second (less on a quiet machine, more on a freshly restarted engine). */
const SLOW_READ = 'SELECT count(*)::int AS n FROM generate_series(1, 3000000)';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll until `check` holds (bounded by `timeoutMs`); fails with `what` otherwise. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Send a CancelRequest for (pid, key) on a fresh socket, as libpq does; the server closes it. */
async function sendCancel(port: number, pid: number, key: number): Promise<void> {
  const c = await rawConnect(port);
  c.send(serialize.cancel(pid, key));
  await c.closed;
}

function backendKeyOf(c: pg.Client): { pid: number; key: number } {
  const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
  expect(typeof processID).toBe('number');
  expect(typeof secretKey).toBe('number');
  return { pid: processID, key: secretKey };
}

/** The log lines written since `offset`, parsed. */
async function logLinesSince(server: TestServer, offset: number): Promise<Record<string, unknown>[]> {
  const text = (await server.logText()).slice(offset);
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A garbage collector: node's own if exposed, else one exposed now; undefined if neither works. */
function findGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

async function settledRss(gc: (() => void) | undefined): Promise<number> {
  if (gc) {
    for (let i = 0; i < 3; i++) {
      gc();
      await sleep(100);
    }
  }
  return process.memoryUsage().rss;
}

// ---- 1. the result cap ------------------------------------------------------------------

describe('--max-result-bytes', () => {
  const server = useTestServer(['--max-result-bytes', '1048576']);
  const OVER = "SELECT repeat('x', 1000) AS x FROM generate_series(1, 5000)";
  const UNDER = "SELECT repeat('x', 1000) AS x FROM generate_series(1, 500)";

  it('fails a larger answer with 54000 naming the limit, and the session goes on', { timeout: 60_000 }, async () => {
    const c = await server().client();
    const err = await errorOf(c.query(OVER));
    expect(err.code).toBe('54000');
    expect(err.message).toContain('1048576');
    expect(err.message).toBe('result exceeds the maximum size of 1048576 bytes');
    expect(err.hint).toBeTruthy();
    expect(err.hint).toMatch(/max-result-bytes/);
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('returns an answer under the cap whole, through the simple protocol', { timeout: 60_000 }, async () => {
    const c = await server().client();
    const { rows } = await c.query<{ x: string }>(UNDER);
    expect(rows).toHaveLength(500);
    expect(rows.every((r) => r.x === 'x'.repeat(1000))).toBe(true);
  });

  it('caps the extended protocol the same way, and returns an answer under the cap whole', { timeout: 60_000 }, async () => {
    const c = await server().client();
    // A named statement always goes through Parse/Bind/Describe/Execute/Sync.
    const over = await errorOf(c.query({ name: 'over_cap', text: OVER }));
    expect(over).toMatchObject({ code: '54000', message: 'result exceeds the maximum size of 1048576 bytes' });
    expect(over.hint).toBeTruthy();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    const named = await c.query<{ x: string }>({ name: 'under_cap', text: UNDER });
    expect(named.rows).toHaveLength(500);
    expect(named.rows.every((r) => r.x === 'x'.repeat(1000))).toBe(true);
    // Executed again from the same prepared statement.
    expect((await c.query<{ x: string }>({ name: 'under_cap', text: UNDER })).rows).toHaveLength(500);
    // The unnamed statement in extended mode (pg sends `values: []` as a simple query, so ask for it).
    const unnamed = await c.query<{ x: string }>({ text: UNDER, values: [], queryMode: 'extended' } as pg.QueryConfig);
    expect(unnamed.rows).toHaveLength(500);
    // And with a parameter.
    const param = await c.query<{ x: string }>("SELECT repeat('x', 1000) AS x FROM generate_series(1, $1::int)", [500]);
    expect(param.rows).toHaveLength(500);
  });
});

// ---- 2, 8, 9: default flags -------------------------------------------------------------

describe('with default flags', () => {
  const server = useTestServer([]);
  const raws: RawClient[] = [];
  afterEach(() => {
    for (const r of raws.splice(0)) r.socket.destroy();
  });

  it('a client that never reads its 50 MB answer holds up nobody, and leaves no memory behind', { timeout: 120_000 }, async () => {
    const gc = findGc();
    const other = await server().client();
    expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const before = await settledRss(gc);

    const logOffset = (await server().logText()).length;
    const sluggard = await rawSession(server().port);
    raws.push(sluggard);
    const { processID } = sluggard.messages.find((m) => m.name === 'backendKeyData') as BackendKeyDataMessage;
    // Stop reading before the answer starts to arrive: the kernel buffers fill and stay full.
    sluggard.socket.pause();
    sluggard.send(serialize.query("SELECT repeat('x', 1000) FROM generate_series(1, 50000)"));
    // The server has produced the whole answer (it logs the statement once it is written out
    // to the socket), and is now stuck writing it to a client that does not read.
    await until(
      'the large read to be answered',
      async () => (await logLinesSince(server(), logOffset)).some((l) => l.session === processID && l.msg === 'statement' && l.outcome === 'ok'),
      60_000,
    );

    for (let i = 0; i < 20; i++) {
      expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    }
    const fresh = await server().client();
    expect((await fresh.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);

    sluggard.socket.destroy();
    await sluggard.closed;
    expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const another = await server().client();
    expect((await another.query("SELECT 'still here' AS s")).rows).toEqual([{ s: 'still here' }]);

    const after = await settledRss(gc);
    const grownMb = (after - before) / 1024 / 1024;
    console.log(`RSS before ${Math.round(before / 1024 / 1024)} MB, after ${Math.round(after / 1024 / 1024)} MB (gc ${gc ? 'run' : 'unavailable'})`);
    expect(grownMb).toBeLessThan(600);
  });

  it('a DDL portal executed twice runs once: the second Execute is 55000', { timeout: 60_000 }, async () => {
    const c = await rawSession(server().port);
    raws.push(c);
    c.messages.length = 0;
    c.send(
      Buffer.concat([
        serialize.parse({ text: "CREATE SECRET twice AS 'x'" }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    await c.waitFor((m) => m.name === 'readyForQuery', 30_000);
    expect(c.messages.map((m) => m.name)).toEqual(['parseComplete', 'bindComplete', 'commandComplete', 'error', 'readyForQuery']);
    expect((c.messages[2] as CommandCompleteMessage).text).toBe('CREATE SECRET');
    const err = c.messages[3] as DatabaseError;
    expect(err.code).toBe('55000');
    expect(err.message).toBe('portal "" cannot be run');
    expect(c.messages.some((m) => (m as DatabaseError).code === '42710')).toBe(false);

    const check = await server().client();
    expect((await check.query("SELECT name FROM mz_secrets WHERE name = 'twice'")).rows).toEqual([{ name: 'twice' }]);
  });

  it('refuses login names PostgreSQL reserves with FATAL 28000, not an internal error', { timeout: 60_000 }, async () => {
    const logOffset = (await server().logText()).length;
    const reserved = ['public', 'none', 'current_user', 'session_user', 'current_role'];
    for (const user of reserved) {
      const c = new pg.Client({ host: server().host, port: server().port, user, database: 'materialize' });
      c.on('error', () => undefined);
      let caught: DatabaseError | undefined;
      try {
        await c.connect();
      } catch (e) {
        caught = e as DatabaseError;
      } finally {
        await c.end().catch(() => undefined);
      }
      expect(caught, `login as ${user}`).toBeDefined();
      expect({ user, code: caught!.code, severity: caught!.severity, message: caught!.message }).toEqual({
        user,
        code: '28000',
        severity: 'FATAL',
        message: `role "${user}" is reserved`,
      });
    }
    // The server still serves an ordinary login.
    const ok = await server().client();
    expect((await ok.query('SELECT current_user AS u')).rows).toEqual([{ u: 'materialize' }]);

    await until('the refusals to be logged', async () => (await logLinesSince(server(), logOffset)).filter((l) => l.code === '28000').length >= reserved.length);
    const lines = await logLinesSince(server(), logOffset);
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(lines.filter((l) => /internal error/i.test(JSON.stringify(l)))).toEqual([]);
    expect(lines.filter((l) => l.code === '28000').map((l) => l.message)).toEqual(reserved.map((u) => `role "${u}" is reserved`));
  });
});

// ---- 3. per-session statement_timeout ---------------------------------------------------

describe('per-session statement_timeout under --statement-timeout-ms 4000', () => {
  const server = useTestServer(['--statement-timeout-ms', '4000']);

  it('defaults to the server maximum, can be lowered, and stops only that session\'s reads', { timeout: 60_000 }, async () => {
    const c = await server().client();
    const other = await server().client();
    expect((await c.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '4s' }]);
    expect((await other.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '4s' }]);

    await c.query("SET statement_timeout = '300ms'");
    expect((await c.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '300ms' }]);
    expect((await other.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '4s' }]);

    const heavy = errorOf(c.query(HEAVY_READ));
    await sleep(50);
    // The other session is not stopped: it waits for the engine, then is answered.
    const during = other.query('SELECT 1 AS one');
    const err = await heavy;
    expect(err).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });
    expect(err.hint).toContain('300 ms');
    expect((await during).rows).toEqual([{ one: 1 }]);
    expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    // The other session's reads still have its own (the server's) timeout.
    expect((await other.query(SLOW_READ)).rows).toEqual([{ n: 3_000_000 }]);
  });

  it('caps a larger or unlimited value at the server maximum, and RESET restores it', { timeout: 30_000 }, async () => {
    const c = await server().client();
    const show = async (): Promise<unknown> => (await c.query('SHOW statement_timeout')).rows[0];
    await c.query('SET statement_timeout = 0');
    expect(await show()).toEqual({ statement_timeout: '4s' });
    await c.query("SET statement_timeout = '1h'");
    expect(await show()).toEqual({ statement_timeout: '4s' });
    await c.query("SET statement_timeout = '2s'");
    expect(await show()).toEqual({ statement_timeout: '2s' });
    await c.query('RESET statement_timeout');
    expect(await show()).toEqual({ statement_timeout: '4s' });

    const err = await errorOf(c.query("SET statement_timeout = 'banana'"));
    expect(err.code).toBe('22023');
    expect(err.message).toBe('invalid value for parameter "statement_timeout": "banana"');
    expect(await show()).toEqual({ statement_timeout: '4s' });
  });
});

// ---- 4, 5. CancelRequest ----------------------------------------------------------------

describe('CancelRequest (--statement-timeout-ms 60000)', () => {
  const server = useTestServer(['--statement-timeout-ms', '60000']);

  it('stops a running engine read with 57014; the session and its data are intact', { timeout: 30_000 }, async () => {
    const c = await server().client();
    await c.query("CREATE SECRET before_cancel AS 'x'");
    const { pid, key } = backendKeyOf(c);

    const heavy = errorOf(c.query(HEAVY_READ));
    await sleep(300);
    await sendCancel(server().port, pid, key);
    // The read would take minutes: the test timeout bounds how long this may wait.
    expect(await heavy).toMatchObject({ code: '57014', message: 'canceling statement due to user request' });

    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await c.query("SELECT name FROM mz_secrets WHERE name = 'before_cancel'")).rows).toEqual([{ name: 'before_cancel' }]);
  });

  it('a CancelRequest with the wrong secret key stops nothing', { timeout: 30_000 }, async () => {
    const c = await server().client();
    const { pid, key } = backendKeyOf(c);
    const slow = c.query(SLOW_READ);
    await sleep(200);
    await sendCancel(server().port, pid, key ^ 1);
    expect((await slow).rows).toEqual([{ n: 3_000_000 }]);
  });

  it('a cancelled or timed-out read loses no committed change, and other sessions\' prepared statements still work', { timeout: 60_000 }, async () => {
    const a = await server().client();
    const b = await server().client();
    await a.query("CREATE SECRET s5_one AS 'x'");
    await a.query('BEGIN');
    await a.query("CREATE SECRET s5_two AS 'y'");
    await a.query('COMMIT');

    const listing = { name: 'b_list', text: "SELECT name FROM mz_secrets WHERE name LIKE 's5\\_%' ORDER BY name" };
    const byName = { name: 'b_by_name', text: 'SELECT name FROM mz_secrets WHERE name = $1', values: ['s5_two'] };
    expect((await b.query(listing)).rows).toEqual([{ name: 's5_one' }, { name: 's5_two' }]);
    expect((await b.query(byName)).rows).toEqual([{ name: 's5_two' }]);
    const before = await catalogSnapshot(b);

    // Cancelled by the client...
    const { pid, key } = backendKeyOf(a);
    const heavy = errorOf(a.query(HEAVY_READ));
    await sleep(300);
    await sendCancel(server().port, pid, key);
    expect(await heavy).toMatchObject({ code: '57014', message: 'canceling statement due to user request' });

    expect((await b.query(listing)).rows).toEqual([{ name: 's5_one' }, { name: 's5_two' }]);
    expect((await b.query({ ...byName, values: ['s5_one'] })).rows).toEqual([{ name: 's5_one' }]);

    // ...and stopped by its own statement_timeout.
    await a.query("SET statement_timeout = '300ms'");
    expect(await errorOf(a.query(HEAVY_READ))).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });

    expect((await b.query(listing)).rows).toEqual([{ name: 's5_one' }, { name: 's5_two' }]);
    expect((await b.query(byName)).rows).toEqual([{ name: 's5_two' }]);
    expect(await catalogSnapshot(b)).toEqual(before);

    // Both sessions go on changing and reading the catalog.
    expect((await a.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await a.query("CREATE SECRET s5_three AS 'z'");
    expect((await b.query(listing)).rows).toEqual([{ name: 's5_one' }, { name: 's5_three' }, { name: 's5_two' }]);
    await b.query("CREATE SECRET s5_four AS 'w'");
    expect((await a.query("SELECT count(*)::int AS n FROM mz_secrets WHERE name LIKE 's5\\_%'")).rows).toEqual([{ n: 4 }]);
  });
});

// ---- 6, 7. shutdown ---------------------------------------------------------------------

/** A server a test closes itself: cleaned up without a second close. */
function useClosableServer(flags: string[]): { server: () => TestServer; close: () => Promise<void> } {
  let server: TestServer | undefined;
  let closing: Promise<void> | undefined;
  beforeAll(async () => {
    server = await startTestServer(flags);
  });
  afterAll(async () => {
    if (!server) return;
    if (!closing) {
      await server.stop();
      return;
    }
    await closing.catch(() => undefined);
    await rm(join(server.dataDir, '..'), { recursive: true, force: true });
  });
  return {
    server: () => {
      if (!server) throw new Error('the test server has not started');
      return server;
    },
    close: () => {
      closing ??= server!.close();
      return closing;
    },
  };
}

/**
 * A pg client's server errors and its end, recorded from the start. (pg also emits a plain
 * 'Connection terminated unexpectedly' Error when the socket ends after them: left out.)
 */
function watch(c: pg.Client): { errors: DatabaseError[]; ended: Promise<void> } {
  const errors: DatabaseError[] = [];
  c.on('error', (e) => {
    if ((e as DatabaseError).code !== undefined) errors.push(e as DatabaseError);
  });
  const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
  return { errors, ended };
}

describe('shutdown with --shutdown-grace-ms 500', () => {
  const { server, close } = useClosableServer(['--shutdown-grace-ms', '500']);
  const raws: RawClient[] = [];
  afterAll(() => {
    for (const r of raws) r.socket.destroy();
  });

  it('is bounded: idle, in-transaction, half-started and non-reading clients are all closed', { timeout: 15_000 }, async () => {
    const idle = await server().client();
    const idleWatch = watch(idle);
    const inTx = await server().client();
    const inTxWatch = watch(inTx);
    await inTx.query('BEGIN');
    await inTx.query("CREATE SECRET never_committed AS 'x'");
    const halfStarted = await rawConnect(server().port);
    raws.push(halfStarted);
    const paused = await rawSession(server().port);
    raws.push(paused);
    paused.messages.length = 0;
    paused.socket.pause();
    // Let the server see every connection before it shuts down.
    expect((await idle.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    await close();

    await Promise.all([idleWatch.ended, inTxWatch.ended]);
    for (const w of [idleWatch, inTxWatch]) {
      expect(w.errors.map((e) => ({ code: e.code, severity: e.severity, message: e.message }))).toEqual([
        { code: '57P01', severity: 'FATAL', message: 'terminating connection due to administrator command' },
      ]);
    }
    await halfStarted.closed;
    // The non-reader sees what the server sent, and its end, once it reads again.
    paused.socket.resume();
    await paused.closed;
    expect(paused.messages.map((m) => [m.name, (m as DatabaseError).code])).toEqual([['error', '57P01']]);
    // Nothing listens any more.
    await expect(rawConnect(server().port)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('shutdown with --shutdown-grace-ms 5000', () => {
  const { server, close } = useClosableServer(['--shutdown-grace-ms', '5000']);

  it('lets a running read finish within the grace period, then closes its connection with 57P01', { timeout: 30_000 }, async () => {
    const idle = await server().client();
    const idleWatch = watch(idle);
    const busy = await server().client();
    const busyWatch = watch(busy);
    expect((await busy.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    const read = busy.query(SLOW_READ);
    await sleep(200);
    const closed = close();

    // The idle session is told at once, the running read gets its answer.
    await idleWatch.ended;
    expect(idleWatch.errors.map((e) => e.code)).toEqual(['57P01']);
    expect((await read).rows).toEqual([{ n: 3_000_000 }]);
    await busyWatch.ended;
    expect(busyWatch.errors.map((e) => ({ code: e.code, message: e.message }))).toEqual([
      { code: '57P01', message: 'terminating connection due to administrator command' },
    ]);
    await closed;
  });
});
