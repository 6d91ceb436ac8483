/**
 * Attacks on the connection's input handling: oversized messages, invalid UTF-8, clients that
 * never finish their startup, connection floods, and messages sent before the startup packet.
 * Each one must get a clean PostgreSQL answer, cost the server a bounded amount, and leave it
 * serving other clients.
 */
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { BackendMessage, DatabaseError, DataRowMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { afterEach, describe, expect, it } from 'vitest';
import { frame, rawConnect, rawSession, type RawClient } from '../support/raw-client.js';
import { errorOf, useTestServer } from '../support/server.js';

const MiB = 1024 * 1024;
const T = { timeout: 30_000 };

// ---- bookkeeping: every socket and client a test opens is closed after it ------------------

const openSockets: Socket[] = [];
const openClients: pg.Client[] = [];

afterEach(async () => {
  for (const s of openSockets.splice(0)) s.destroy();
  await Promise.all(openClients.splice(0).map((c) => c.end().catch(() => undefined)));
});

async function raw(port: number): Promise<RawClient> {
  const c = await rawConnect(port);
  openSockets.push(c.socket);
  return c;
}

async function session(port: number): Promise<RawClient> {
  const c = await rawSession(port);
  openSockets.push(c.socket);
  return c;
}

function pgClient(port: number): pg.Client {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'materialize', database: 'materialize' });
  c.on('error', () => undefined);
  openClients.push(c);
  return c;
}

// ---- helpers -------------------------------------------------------------------------------

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** Wait for a message matching `pred` among those received from index `from` on. */
function next(c: RawClient, from: number, pred: (m: BackendMessage) => boolean, timeoutMs = 5000): Promise<BackendMessage> {
  return c.waitFor((m) => c.messages.indexOf(m) >= from && pred(m), timeoutMs);
}

const named = (name: string) => (m: BackendMessage) => m.name === name;

/** Message names received from index `from` on. */
function namesFrom(c: RawClient, from: number): string[] {
  return c.messages.slice(from).map((m) => m.name);
}

/** A simple Query built from raw bytes (serialize.query takes a JS string, always valid UTF-8). */
function queryBytes(sql: Buffer): Buffer {
  return frame('Q', Buffer.concat([sql, Buffer.from([0])]));
}

/** 'caf' + 0xE9 (é in Latin-1: not valid UTF-8 on its own) wrapped in `before` and `after`. */
function latin1Cafe(before: string, after: string): Buffer {
  return Buffer.concat([Buffer.from(before + 'caf', 'utf8'), Buffer.from([0xe9]), Buffer.from(after, 'utf8')]);
}

function int16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

/** A simple query on a started raw session; resolves with the rows' text fields once ReadyForQuery arrives. */
async function simpleQuery(c: RawClient, sql: string): Promise<{ rows: (string | null)[][]; names: string[] }> {
  const from = c.messages.length;
  c.send(serialize.query(sql));
  await next(c, from, named('readyForQuery'));
  const received = c.messages.slice(from);
  return {
    rows: received.filter((m): m is DataRowMessage => m.name === 'dataRow').map((m) => m.fields as (string | null)[]),
    names: received.map((m) => m.name),
  };
}

async function expectFatalAndClose(c: RawClient, code: string, message?: string | RegExp): Promise<DatabaseError> {
  const err = (await c.waitFor(named('error'))) as DatabaseError;
  expect(err.severity).toBe('FATAL');
  expect(err.code).toBe(code);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else if (message) expect(err.message).toMatch(message);
  await withTimeout(c.closed, 5000, 'the server closes the connection');
  return err;
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Connect a pg client, retrying while the server still reports too many clients (up to `ms`). */
async function connectWithRetry(port: number, ms: number): Promise<pg.Client> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = pgClient(port);
    try {
      await c.connect();
      return c;
    } catch (err) {
      await c.end().catch(() => undefined);
      if ((err as { code?: string }).code !== '53300' || Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

// ---- 2, 3, 4, 7: one server with a 1 MiB message limit ---------------------------------------

describe('input limits (--max-message-bytes 1048576)', () => {
  const LIMIT = 1048576;
  const server = useTestServer(['--max-message-bytes', String(LIMIT)]);

  describe('an over-limit message', () => {
    it('a Query header claiming 100 MB, then data as fast as the socket takes it: FATAL 08P01 naming the limit, closed long before 100 MB', T, async () => {
      const c = await session(server().port);
      const socket = c.socket;
      let ended = false;
      let closed = false;
      let writeError: Error | undefined;
      socket.on('end', () => (ended = true));
      socket.on('close', () => (closed = true));
      socket.on('error', (err) => (writeError ??= err));

      const CLAIMED = 100_000_000;
      c.send(Buffer.concat([Buffer.from('Q'), int32(CLAIMED)]));
      let written = 5;
      const piece = Buffer.alloc(64 * 1024, 'x');
      const stopped = (): boolean => ended || closed || socket.destroyed || writeError !== undefined;
      const deadline = Date.now() + 20_000;
      while (!stopped() && written < CLAIMED && Date.now() < deadline) {
        const ok = socket.write(piece, (err) => {
          if (err) writeError ??= err;
        });
        written += piece.length;
        if (!ok) {
          // Wait until the kernel takes more, or the server closes.
          await new Promise<void>((resolve) => {
            const done = (): void => {
              socket.off('drain', done);
              socket.off('close', done);
              socket.off('end', done);
              socket.off('error', done);
              resolve();
            };
            socket.on('drain', done);
            socket.on('close', done);
            socket.on('end', done);
            socket.on('error', done);
          });
        }
      }
      await withTimeout(c.closed, 5000, 'the server closes the connection');
      const err = (await c.waitFor(named('error'))) as DatabaseError;
      expect(err.severity).toBe('FATAL');
      expect(err.code).toBe('08P01');
      expect(err.message).toContain(String(LIMIT));
      expect(err.message).toContain(String(CLAIMED));
      if (writeError) expect((writeError as NodeJS.ErrnoException).code).toMatch(/^(EPIPE|ECONNRESET|ERR_STREAM_WRITE_AFTER_END|ERR_STREAM_DESTROYED)$/);
      // The rest of the upload is never read: the writer is cut off after what the kernel buffers hold.
      expect(written).toBeLessThan(20 * MiB);
      // No answer other than the startup's and the error.
      expect(c.messages.filter((m) => m.name === 'dataRow' || m.name === 'commandComplete')).toEqual([]);

      // Served right after, on a new connection.
      const other = pgClient(server().port);
      await other.connect();
      expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      const log = await server().logText();
      expect(log).toContain('connection closed by server');
    });

    it('a header claiming one byte over the limit is refused at once, before any of the body is sent', T, async () => {
      const c = await session(server().port);
      c.send(Buffer.concat([Buffer.from('Q'), int32(LIMIT + 1)]));
      await expectFatalAndClose(c, '08P01', new RegExp(`${LIMIT + 1}.*${LIMIT}`));
    });

    it('a Parse header claiming 1 GB is refused the same way', T, async () => {
      const c = await session(server().port);
      c.send(Buffer.concat([Buffer.from('P'), int32(1024 * MiB)]));
      await expectFatalAndClose(c, '08P01', /limit/);
    });

    it('a real query over the limit from node-postgres gets FATAL 08P01 and others are served', T, async () => {
      const c = pgClient(server().port);
      await c.connect();
      const big = `SELECT length('${'x'.repeat(LIMIT)}')`;
      const err = await errorOf(c.query(big));
      expect(err.code).toBe('08P01');
      expect(err.message).toContain(String(LIMIT));
      const other = pgClient(server().port);
      await other.connect();
      expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  });

  describe('a message just under the limit', () => {
    it("SELECT length('<900 000 x>') is answered correctly", T, async () => {
      const c = pgClient(server().port);
      await c.connect();
      const n = 900_000;
      const res = await c.query(`SELECT length('${'x'.repeat(n)}') AS n`);
      expect(Number(res.rows[0].n)).toBe(n);
      // And the session goes on.
      expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    });

    it('a Query whose length field is exactly the limit is answered; one byte more is refused', T, async () => {
      // serialize.query: 'Q', int32 length (4 + text + NUL), text, NUL.
      const sqlOfLength = (len: number): string => {
        const k = len - 5 - "SELECT length('')".length;
        return `SELECT length('${'x'.repeat(k)}')`;
      };
      const atLimit = serialize.query(sqlOfLength(LIMIT));
      expect(atLimit.readInt32BE(1)).toBe(LIMIT);
      const c = await session(server().port);
      const from = c.messages.length;
      // In uneven pieces, as a slow network would deliver it.
      for (let at = 0; at < atLimit.length; at += 7919) c.send(atLimit.subarray(at, at + 7919));
      await next(c, from, named('readyForQuery'), 20_000);
      expect(namesFrom(c, from)).toEqual(['rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
      const row = c.messages.find((m, i) => i >= from && m.name === 'dataRow') as DataRowMessage;
      expect(row.fields).toEqual([String(LIMIT - 5 - "SELECT length('')".length)]);

      const over = serialize.query(sqlOfLength(LIMIT + 1));
      expect(over.readInt32BE(1)).toBe(LIMIT + 1);
      c.send(over);
      await expectFatalAndClose(c, '08P01', new RegExp(String(LIMIT)));
    });
  });

  describe('invalid UTF-8', () => {
    it("a simple Query with 0xE9 in a string literal gets ERROR 22021, then the session answers SELECT 1", T, async () => {
      const c = await session(server().port);
      const from = c.messages.length;
      c.send(queryBytes(latin1Cafe("SELECT '", "'")));
      const err = (await next(c, from, named('error'))) as DatabaseError;
      expect(err.severity).toBe('ERROR');
      expect(err.code).toBe('22021');
      expect(err.message.startsWith('invalid byte sequence for encoding "UTF8": 0xe9')).toBe(true);
      await next(c, from, named('readyForQuery'));
      expect(namesFrom(c, from)).toEqual(['error', 'readyForQuery']);
      expect((await simpleQuery(c, 'SELECT 1')).rows).toEqual([['1']]);
    });

    it('an invalid byte at the very end, and a truncated multi-byte sequence, are refused the same way', T, async () => {
      const c = await session(server().port);
      for (const bad of [
        Buffer.concat([Buffer.from('SELECT 1 -- '), Buffer.from([0xff])]),
        Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0xe6, 0x97]), Buffer.from("'")]), // 日 cut short
        Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0xc0, 0xaf]), Buffer.from("'")]), // overlong '/'
        Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from("'")]), // a UTF-16 surrogate
      ]) {
        const from = c.messages.length;
        c.send(queryBytes(bad));
        const err = (await next(c, from, named('error'))) as DatabaseError;
        expect(err.code, bad.toString('hex')).toBe('22021');
        expect(err.message).toMatch(/^invalid byte sequence for encoding "UTF8": 0x[0-9a-f]{2}/);
        await next(c, from, named('readyForQuery'));
      }
      // Valid multi-byte text still goes through.
      expect((await simpleQuery(c, "SELECT 'café 日本 🙂' AS t")).rows).toEqual([['café 日本 🙂']]);
    });

    it("CREATE SECRET s AS 'caf\\xe9' gets 22021 and creates nothing", T, async () => {
      const c = await session(server().port);
      const from = c.messages.length;
      c.send(queryBytes(latin1Cafe("CREATE SECRET s AS '", "'")));
      const err = (await next(c, from, named('error'))) as DatabaseError;
      expect(err.code).toBe('22021');
      expect(err.message.startsWith('invalid byte sequence for encoding "UTF8": 0xe9')).toBe(true);
      await next(c, from, named('readyForQuery'));

      const check = pgClient(server().port);
      await check.connect();
      expect((await check.query("SELECT count(*) AS n FROM mz_secrets WHERE name = 's'")).rows.map((r) => Number(r.n))).toEqual([0]);
      // The same statement in valid UTF-8 is accepted: the refusal is about the bytes only.
      await check.query("CREATE SECRET s_utf8 AS 'café'");
      expect((await check.query("SELECT count(*) AS n FROM mz_secrets WHERE name = 's_utf8'")).rows.map((r) => Number(r.n))).toEqual([1]);
    });

    it('a Parse with invalid UTF-8 gets 22021, the rest up to Sync is skipped, ReadyForQuery follows Sync, and the session works', T, async () => {
      const c = await session(server().port);
      const from = c.messages.length;
      const parseBody = Buffer.concat([Buffer.from('\0'), latin1Cafe("SELECT '", "' AS t"), Buffer.from('\0'), int16(0)]);
      c.send(
        Buffer.concat([
          frame('P', parseBody),
          serialize.bind({}),
          serialize.describe({ type: 'P' }),
          serialize.execute({}),
          serialize.sync(),
        ]),
      );
      await next(c, from, named('readyForQuery'));
      expect(namesFrom(c, from)).toEqual(['error', 'readyForQuery']);
      const err = c.messages[from] as DatabaseError;
      expect(err.severity).toBe('ERROR');
      expect(err.code).toBe('22021');
      expect(err.message.startsWith('invalid byte sequence for encoding "UTF8": 0xe9')).toBe(true);

      // The extended protocol works after the Sync.
      const again = c.messages.length;
      c.send(Buffer.concat([serialize.parse({ text: 'SELECT 1 AS one' }), serialize.bind({}), serialize.execute({}), serialize.sync()]));
      await next(c, again, named('readyForQuery'));
      expect(namesFrom(c, again)).toEqual(['parseComplete', 'bindComplete', 'dataRow', 'commandComplete', 'readyForQuery']);
      expect((await simpleQuery(c, 'SELECT 1')).rows).toEqual([['1']]);
    });

    it('a Parse whose statement name is invalid UTF-8 is refused the same way', T, async () => {
      const c = await session(server().port);
      const from = c.messages.length;
      const parseBody = Buffer.concat([latin1Cafe('', ''), Buffer.from('\0'), Buffer.from('SELECT 1\0'), int16(0)]);
      c.send(Buffer.concat([frame('P', parseBody), serialize.sync()]));
      await next(c, from, named('readyForQuery'));
      expect(namesFrom(c, from)).toEqual(['error', 'readyForQuery']);
      expect((c.messages[from] as DatabaseError).code).toBe('22021');
      expect((await simpleQuery(c, 'SELECT 1')).rows).toEqual([['1']]);
    });

    it('a Bind whose text parameter is invalid UTF-8 gets 22021 and the session goes on', T, async () => {
      const c = await session(server().port);
      const from = c.messages.length;
      const value = latin1Cafe('', '');
      // portal "", statement "", one parameter format (text), one parameter, no result formats.
      const bindBody = Buffer.concat([Buffer.from('\0\0'), int16(1), int16(0), int16(1), int32(value.length), value, int16(0)]);
      c.send(
        Buffer.concat([
          serialize.parse({ text: 'SELECT $1::text AS t', types: [25] }),
          frame('B', bindBody),
          serialize.execute({}),
          serialize.sync(),
        ]),
      );
      await next(c, from, named('readyForQuery'));
      const names = namesFrom(c, from);
      const err = c.messages.slice(from).find((m) => m.name === 'error') as DatabaseError | undefined;
      // The bytes must not come back as text (or as a replacement character).
      expect(c.messages.slice(from).filter((m) => m.name === 'dataRow')).toEqual([]);
      expect(err?.code, `got ${names.join(', ')}`).toBe('22021');
      expect((await simpleQuery(c, 'SELECT 1')).rows).toEqual([['1']]);
    });

    it('a startup packet whose user name is invalid UTF-8 gets FATAL 22021 and is closed', T, async () => {
      const c = await raw(server().port);
      const body = Buffer.concat([Buffer.from('user\0'), latin1Cafe('', ''), Buffer.from('\0database\0materialize\0\0')]);
      c.send(Buffer.concat([int32(8 + body.length), int32(196608), body]));
      const err = await expectFatalAndClose(c, '22021');
      expect(err.message.startsWith('invalid byte sequence for encoding "UTF8": 0xe9')).toBe(true);
      expect(c.messages.some((m) => m.name === 'authenticationOk')).toBe(false);
    });

    it('a startup packet with an invalid UTF-8 application_name gets FATAL 22021 and is closed', T, async () => {
      const c = await raw(server().port);
      const body = Buffer.concat([Buffer.from('user\0materialize\0database\0materialize\0application_name\0'), latin1Cafe('', ''), Buffer.from('\0\0')]);
      c.send(Buffer.concat([int32(8 + body.length), int32(196608), body]));
      await expectFatalAndClose(c, '22021', /^invalid byte sequence for encoding "UTF8": 0xe9/);
      expect(c.messages.some((m) => m.name === 'authenticationOk')).toBe(false);
    });
  });

  describe('messages before the startup packet', () => {
    const early: [string, Buffer][] = [
      ['a Query', serialize.query('SELECT 1')],
      ['a Parse', serialize.parse({ text: 'SELECT 1' })],
      ['a Sync', serialize.sync()],
      ['a Terminate', serialize.end()],
      ['a Password', serialize.password('secret')],
    ];

    it.each(early)('%s sent instead of the startup packet gets FATAL 08P01 and the connection is closed', async (_what, bytes) => {
      const c = await raw(server().port);
      c.send(bytes);
      await expectFatalAndClose(c, '08P01', 'invalid length of startup packet');
      expect(c.messages.map((m) => m.name)).toEqual(['error']);
    }, 30_000);

    it('a Query after the SSLRequest answer but before the startup packet gets FATAL 08P01 and is closed', T, async () => {
      const c = await raw(server().port);
      const answer = c.expectRaw(1);
      c.send(serialize.requestSsl());
      expect((await answer).toString()).toBe('N');
      c.send(serialize.query('SELECT 1'));
      await expectFatalAndClose(c, '08P01', 'invalid length of startup packet');
    });

    it('a startup packet claiming 100 MB is refused at once', T, async () => {
      const c = await raw(server().port);
      c.send(Buffer.concat([int32(100_000_000), int32(196608)]));
      await expectFatalAndClose(c, '08P01', 'invalid length of startup packet');
    });

    it('a Query pipelined right behind the startup packet, in the same write, is answered after ReadyForQuery', T, async () => {
      const c = await raw(server().port);
      c.send(Buffer.concat([serialize.startup({ user: 'materialize', database: 'materialize' }), serialize.query('SELECT 1 AS one')]));
      await c.waitFor((m) => m.name === 'commandComplete');
      await next(c, c.messages.findIndex(named('commandComplete')), named('readyForQuery'));
      const names = c.messages.map((m) => m.name).filter((n) => n !== 'parameterStatus' && n !== 'backendKeyData');
      expect(names).toEqual(['authenticationOk', 'readyForQuery', 'rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
    });

    it('the server still serves a normal client after all this', T, async () => {
      const c = pgClient(server().port);
      await c.connect();
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  });
});

// ---- 5: startup timeout ----------------------------------------------------------------------

describe('startup timeout (--startup-timeout-ms 300)', () => {
  const server = useTestServer(['--startup-timeout-ms', '300']);
  const TIMEOUT_MESSAGE = 'canceling authentication due to timeout';

  it('a socket that connects and sends nothing gets FATAL 57014 and is closed', T, async () => {
    const c = await raw(server().port);
    await expectFatalAndClose(c, '57014', TIMEOUT_MESSAGE);
    expect(c.messages.map((m) => m.name)).toEqual(['error']);
  });

  it('a socket that sends half a startup packet (its first 6 bytes) gets FATAL 57014 and is closed', T, async () => {
    const c = await raw(server().port);
    c.send(serialize.startup({ user: 'materialize', database: 'materialize' }).subarray(0, 6));
    await expectFatalAndClose(c, '57014', TIMEOUT_MESSAGE);
  });

  it('a socket that stops after the SSLRequest answer gets FATAL 57014 and is closed', T, async () => {
    const c = await raw(server().port);
    const answer = c.expectRaw(1);
    c.send(serialize.requestSsl());
    expect((await answer).toString()).toBe('N');
    await expectFatalAndClose(c, '57014', TIMEOUT_MESSAGE);
  });

  it('a startup packet dribbled one byte every 100 ms is cut off: the deadline is for the whole startup, not between bytes', T, async () => {
    const c = await raw(server().port);
    const packet = serialize.startup({ user: 'materialize', database: 'materialize' });
    let sent = 0;
    let closed = false;
    void c.closed.then(() => (closed = true));
    while (!closed && sent < packet.length && c.messages.length === 0) {
      c.send(packet.subarray(sent, sent + 1));
      sent++;
      await sleep(100);
    }
    await expectFatalAndClose(c, '57014', TIMEOUT_MESSAGE);
    expect(sent).toBeLessThan(packet.length);
    expect(c.messages.some((m) => m.name === 'authenticationOk')).toBe(false);
  });

  it('a client that completes its startup is not closed after 1 s idle', T, async () => {
    const viaPg = pgClient(server().port);
    let pgClosed = false;
    viaPg.on('end', () => (pgClosed = true));
    await viaPg.connect();
    const viaRaw = await session(server().port);
    let rawClosed = false;
    void viaRaw.closed.then(() => (rawClosed = true));
    const from = viaRaw.messages.length;

    await sleep(1000);

    expect(pgClosed).toBe(false);
    expect(rawClosed).toBe(false);
    expect(viaRaw.messages.slice(from)).toEqual([]);
    expect((await viaPg.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await simpleQuery(viaRaw, 'SELECT 1')).rows).toEqual([['1']]);
  });
});

// ---- 6: connection limit -------------------------------------------------------------------

describe('connection limit (--max-connections 5)', () => {
  // A long startup timeout: the idle sockets hold their slots for the whole test.
  const server = useTestServer(['--max-connections', '5', '--startup-timeout-ms', '60000']);

  it('5 half-open startups fill the server; the 6th gets 53300; a freed slot is usable again', T, async () => {
    const idle = await Promise.all(Array.from({ length: 5 }, () => raw(server().port)));

    const refused = pgClient(server().port);
    const err = await errorOf(refused.connect());
    expect(err.code).toBe('53300');
    expect(err.message).toBe('sorry, too many clients already');

    // A raw sixth socket is refused without sending anything: the refusal comes before reading.
    const rawSixth = await raw(server().port);
    await expectFatalAndClose(rawSixth, '53300', 'sorry, too many clients already');

    // The idle ones were never answered.
    for (const c of idle) expect(c.messages).toEqual([]);

    idle[0]!.socket.destroy();
    const c = await connectWithRetry(server().port, 2000);
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    // The new client took the freed slot: the server is full again.
    const again = pgClient(server().port);
    expect((await errorOf(again.connect())).code).toBe('53300');

    // The four remaining idle sockets can still complete their startup.
    const from = idle.slice(1).map((s) => s.messages.length);
    for (const s of idle.slice(1)) s.send(serialize.startup({ user: 'materialize', database: 'materialize' }));
    await Promise.all(idle.slice(1).map((s, i) => next(s, from[i]!, named('readyForQuery'))));
    expect((await simpleQuery(idle[1]!, 'SELECT 1')).rows).toEqual([['1']]);
  });
});

describe('connection flood (--max-connections 20)', () => {
  const server = useTestServer(['--max-connections', '20', '--startup-timeout-ms', '60000']);

  interface Probe {
    socket: Socket;
    connected: boolean;
    closed: boolean;
    error?: Error;
    messages: BackendMessage[];
  }

  function probe(port: number): Promise<Probe> {
    const socket = connect(port, '127.0.0.1');
    openSockets.push(socket);
    const p: Probe = { socket, connected: false, closed: false, messages: [] };
    const parser = new Parser();
    socket.on('data', (chunk: Buffer) => parser.parse(chunk, (m) => p.messages.push(m)));
    socket.on('close', () => (p.closed = true));
    return new Promise((resolve) => {
      socket.once('connect', () => {
        p.connected = true;
        resolve(p);
      });
      socket.on('error', (err) => {
        p.error ??= err;
        resolve(p);
      });
    });
  }

  const isRefusal = (p: Probe): boolean =>
    p.closed && p.messages.length === 1 && p.messages[0]!.name === 'error' && (p.messages[0] as DatabaseError).code === '53300';

  it('200 sockets at once: 20 accepted, 180 refused with 53300; the server serves afterwards and gives its descriptors back', T, async () => {
    // Warm up (one session opened and closed), then take the baseline.
    const warm = pgClient(server().port);
    await warm.connect();
    await warm.end();
    await sleep(200);
    const baselineFds = fdCount();

    const probes = await Promise.all(Array.from({ length: 200 }, () => probe(server().port)));
    expect(probes.filter((p) => p.error).map((p) => p.error!.message)).toEqual([]);
    expect(probes.every((p) => p.connected)).toBe(true);

    // Wait until the refusals stop coming (every refused socket is answered and closed).
    const deadline = Date.now() + 10_000;
    let refusedCount = -1;
    for (let stableSince = Date.now(); Date.now() < deadline; await sleep(100)) {
      const n = probes.filter(isRefusal).length;
      if (n !== refusedCount) {
        refusedCount = n;
        stableSince = Date.now();
      } else if (Date.now() - stableSince > 1000 && n >= 180) break;
    }
    const refusedProbes = probes.filter(isRefusal);
    const accepted = probes.filter((p) => !isRefusal(p));
    const odd = accepted.filter((p) => p.closed || p.messages.length > 0).map((p) => ({ closed: p.closed, messages: p.messages.map((m) => m.name) }));
    expect(odd).toEqual([]);
    expect(refusedProbes.length).toBe(180);
    expect(accepted.length).toBe(20);
    for (const p of refusedProbes) expect((p.messages[0] as DatabaseError).message).toBe('sorry, too many clients already');

    // The accepted ones are real sessions: their startups complete.
    await Promise.all(
      accepted.map(async (p) => {
        p.socket.write(serialize.startup({ user: 'materialize', database: 'materialize' }));
        const until = Date.now() + 5000;
        while (!p.messages.some(named('readyForQuery'))) {
          if (Date.now() > until || p.closed) throw new Error(`no ReadyForQuery; got ${p.messages.map((m) => m.name).join(', ')}`);
          await sleep(20);
        }
      }),
    );

    for (const p of probes) p.socket.destroy();

    // A normal client is served once the server has noticed the closes.
    const c = await connectWithRetry(server().port, 5000);
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.end();

    // Descriptors come back (client and server sockets live in this process).
    let fds = fdCount();
    for (const until = Date.now() + 5000; fds > baselineFds + 40 && Date.now() < until; fds = fdCount()) await sleep(100);
    expect(fds - baselineFds).toBeLessThanOrEqual(40);
  });
});
