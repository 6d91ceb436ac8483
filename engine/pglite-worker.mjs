// The embedded engine's thread: PGlite runs here so that the server can stop a query that
// overruns its timeout, or that its client cancelled, by terminating this thread (WebAssembly
// has no timer signals, so PostgreSQL's statement_timeout never fires inside PGlite). Plain
// JavaScript: it is loaded as is by worker_threads, from src/ under the test runner and from
// dist/ in production.
import { PGlite } from '@electric-sql/pglite';
import { serialize } from 'pg-protocol';
import { parentPort, workerData } from 'node:worker_threads';

const pg = await PGlite.create(workerData.dataDir);
// Session authorization set explicitly at every start: a client's, set inside a transaction
// that is rolled back, reverts to this, where PGlite's never-set value would keep the client's.
const [{ me }] = (await pg.query('SELECT session_user AS me')).rows;
await pg.exec(`SET SESSION AUTHORIZATION "${me.replace(/"/g, '""')}"`);

const SYNC = serialize.sync();
const FLUSH = serialize.flush();
const PORTAL_SUSPENDED = 0x73; // 's'

const run = async (bytes) => Buffer.from(await pg.execProtocolRaw(bytes, { syncToFs: false }));

/** The type byte of the last message in a buffer of whole backend messages. */
function lastMessageType(buf) {
  let off = 0;
  let type;
  while (off + 5 <= buf.length) {
    type = buf[off];
    off += 1 + buf.readInt32BE(off + 1);
  }
  return type;
}

/** The text of the first column of the first DataRow in a simple query's answer. */
function firstValue(buf) {
  let off = 0;
  while (off + 5 <= buf.length) {
    const len = buf.readInt32BE(off + 1);
    if (buf[off] === 0x44 /* 'D' */) {
      const n = buf.readInt32BE(off + 7);
      return n < 0 ? null : buf.toString('utf8', off + 11, off + 11 + n);
    }
    if (buf[off] === 0x45 /* 'E' */) return `error: ${buf.toString('utf8', off + 5, off + 1 + len)}`;
    off += 1 + len;
  }
  return null;
}

/**
 * A client's messages. With `execute`, they end before Execute (Parse/Bind/Describe): the
 * portal then runs `chunkRows` rows at a time, and stops once the answer passes `maxBytes`
 * (so neither this thread nor the server ever holds more than that). Without, they are sent
 * as they are (a Describe). Either way they are closed with Sync, anything the client left
 * open is rolled back, and the session's state is read back with `checkSql`.
 */
async function client({ messages, execute, chunkRows, maxBytes, checkSql }) {
  const parts = [];
  let total = 0;
  let capped = false;
  if (!execute) {
    parts.push(await run(Buffer.concat([messages, SYNC])));
  } else {
    const step = serialize.execute({ rows: chunkRows });
    let next = Buffer.concat([messages, step, FLUSH]);
    for (;;) {
      const out = await run(next);
      total += out.length;
      parts.push(out);
      if (lastMessageType(out) !== PORTAL_SUSPENDED) break;
      if (total > maxBytes) {
        capped = true;
        break;
      }
      next = Buffer.concat([step, FLUSH]);
    }
    const end = await run(SYNC);
    if (capped) parts.length = 0; // the rows are dropped here, never shipped
    parts.push(end);
  }
  // ReadyForQuery's status byte, not pg.isInTransaction(): PGlite does not track what raw
  // protocol messages did to the transaction.
  const last = parts[parts.length - 1];
  if (last[last.length - 1] !== 0x49 /* 'I' */) await run(serialize.query('ROLLBACK'));
  const state = checkSql ? firstValue(await run(serialize.query(checkSql))) : null;
  // A fresh buffer of its own (Buffer.concat may share Node's pool), so it can be transferred.
  const output = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    output.set(p, at);
    at += p.length;
  }
  return { output, capped, state };
}

parentPort.on('message', async ({ id, op, args }) => {
  try {
    let result;
    let transfer = [];
    switch (op) {
      case 'query':
        result = (await pg.query(args.sql, args.params)).rows;
        break;
      case 'exec':
        await pg.exec(args.sql);
        break;
      case 'client':
        result = await client(args);
        transfer = [result.output.buffer];
        break;
      case 'close':
        await pg.close();
        break;
      default:
        throw new Error(`unknown engine op ${op}`);
    }
    parentPort.postMessage({ id, ok: true, result }, transfer);
  } catch (err) {
    parentPort.postMessage({ id, ok: false, error: { message: err?.message ?? String(err), code: err?.code } });
  }
});
parentPort.postMessage({ ready: true });
