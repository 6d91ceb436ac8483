// The embedded engine's thread: PGlite runs here so that the server can stop a query that
// overruns its timeout, or that its client cancelled, by terminating this thread (WebAssembly
// has no timer signals, so PostgreSQL's statement_timeout never fires inside PGlite). Plain
// JavaScript: it is loaded as is by worker_threads, from src/ under the test runner and from
// dist/ in production.
import { serialize } from 'pg-protocol';
import { parentPort, workerData } from 'node:worker_threads';
import { openCatalogDatabase } from './catalog-database.mjs';

const pg = await openCatalogDatabase(workerData.dataDir);
// Session authorization set explicitly at every start: a client's, set inside a transaction
// that is rolled back, reverts to this, where PGlite's never-set value would keep the client's.
const [{ me }] = (await pg.query('SELECT session_user AS me')).rows;
await pg.exec(`SET SESSION AUTHORIZATION "${me.replace(/"/g, '""')}"`);

const SYNC = serialize.sync();
const FLUSH = serialize.flush();
const PORTAL_SUSPENDED = 0x73; // 's'

const run = async (bytes) => Buffer.from(await pg.execProtocolRaw(bytes, { syncToFs: false }));


/** Where each message of a buffer of whole backend messages starts: [type, offset][]. */
function messagesOf(buf) {
  const out = [];
  for (let off = 0; off + 5 <= buf.length; off += 1 + buf.readInt32BE(off + 1)) out.push([buf[off], off]);
  return out;
}

/** The text of the first column of the first DataRow in a simple query's answer. */
function firstValue(buf) {
  for (const [type, off] of messagesOf(buf)) {
    if (type === 0x44 /* 'D' */) {
      const n = buf.readInt32BE(off + 7);
      return n < 0 ? null : buf.toString('utf8', off + 11, off + 11 + n);
    }
  }
  return null;
}

/**
 * A client's messages. With `execute`, they end before Execute (Parse/Bind/Describe). The
 * common case is one engine round: the messages, Execute of up to `chunkRows` rows, Sync and
 * the state check together. An answer with more rows than that is run again a chunk at a time,
 * stopping once it passes `maxBytes` (so neither this thread nor the server ever holds more).
 * Anything the client left open is rolled back, and the session's state is read back with
 * `checkSql`.
 */
async function client({ messages: sent, execute, chunkRows, maxBytes, checkSql }) {
  // Messages arrive as a Uint8Array (structured clone): a Buffer view of the same bytes.
  const messages = Buffer.from(sent.buffer, sent.byteOffset, sent.byteLength);
  const step = execute ? serialize.execute({ rows: chunkRows }) : Buffer.alloc(0);
  const checked = preparedCheck === checkSql;
  const first = await run(Buffer.concat([messages, step, SYNC, checked ? RUN_CHECK : Buffer.alloc(0)]));
  // The client's answer ends at the first ReadyForQuery; the state check's answer follows it.
  const all = messagesOf(first);
  const ready = all.find(([type]) => type === 0x5a /* 'Z' */);
  const split = ready[1] + 6;
  let answer = first.subarray(0, split);
  let state = checked ? stateFrom(first.subarray(split)) : null;
  let capped = answer.length > maxBytes;
  if (capped) answer = answer.subarray(split - 6); // only its ReadyForQuery
  else if (all.some(([type, off]) => type === PORTAL_SUSPENDED && off < split)) {
    ({ answer, capped } = await inChunks(withoutNamedParse(messages), step, maxBytes));
    state = null;
  }
  // ReadyForQuery's status byte, not pg.isInTransaction(): PGlite does not track what raw
  // protocol messages did to the transaction.
  if (answer[answer.length - 1] !== 0x49 /* 'I' */ || state === null) {
    if (answer[answer.length - 1] !== 0x49) await run(serialize.query('ROLLBACK'));
    state = await readState(checkSql);
  }
  // A fresh buffer of its own (Buffer.concat may share Node's pool), so it can be transferred.
  const output = new Uint8Array(answer.length);
  output.set(answer);
  return { output, capped, state };
}

/**
 * The state check runs as a prepared statement (planning its fifteen settings on every read
 * would cost more than most reads). Prepared once per engine session, and again should it ever
 * be gone (DEALLOCATE ALL).
 */
const CHECK_STATEMENT = 'iamlink_state_check';
const RUN_CHECK = Buffer.concat([serialize.bind({ statement: CHECK_STATEMENT }), serialize.execute({}), SYNC]);
let preparedCheck;

/** The check's value, or null if its statement was missing or failed. */
function stateFrom(buf) {
  return messagesOf(buf).some(([type]) => type === 0x45 /* 'E' */) ? null : firstValue(buf);
}

async function readState(checkSql) {
  if (preparedCheck === checkSql) {
    const state = stateFrom(await run(RUN_CHECK));
    if (state !== null) return state;
  }
  await run(Buffer.concat([serialize.parse({ name: CHECK_STATEMENT, text: checkSql }), SYNC]));
  preparedCheck = checkSql;
  return stateFrom(await run(RUN_CHECK));
}

/** The messages without a leading Parse of a named statement: it exists since the first round. */
function withoutNamedParse(messages) {
  if (messages[0] !== 0x50 /* 'P' */ || messages[5] === 0) return messages;
  return messages.subarray(1 + messages.readInt32BE(1));
}

/**
 * Run a portal `step` rows at a time; past `maxBytes` the rows are dropped and `capped` is set.
 * The client sees one answer: no PortalSuspended between chunks, and one CommandComplete that
 * counts every row (the engine's last one counts only its own chunk).
 */
async function inChunks(messages, step, maxBytes) {
  const parts = [];
  let total = 0;
  let rows = 0;
  let capped = false;
  let next = Buffer.concat([messages, step, FLUSH]);
  for (;;) {
    const out = await run(next);
    total += out.length;
    const found = messagesOf(out);
    const suspended = found.at(-1)?.[0] === PORTAL_SUSPENDED;
    for (const [type, off] of found) {
      const end = off + 1 + out.readInt32BE(off + 1);
      if (type === PORTAL_SUSPENDED) continue;
      if (type === 0x44 /* 'D' */) rows++;
      parts.push(type === 0x43 /* 'C' */ ? completeWithRows(out.subarray(off, end), rows) : out.subarray(off, end));
    }
    if (total > maxBytes) {
      capped = true;
      break;
    }
    if (!suspended) break;
    next = Buffer.concat([step, FLUSH]);
  }
  const end = await run(SYNC);
  if (capped) parts.length = 0; // the rows are dropped here, never shipped
  parts.push(end);
  return { answer: Buffer.concat(parts), capped };
}

/** A CommandComplete `SELECT n` rewritten with the rows of every chunk. */
function completeWithRows(message, rows) {
  const tag = message.toString('utf8', 5, message.length - 1);
  if (!/^SELECT \d+$/.test(tag)) return message;
  const text = Buffer.from(`SELECT ${rows}\0`);
  const out = Buffer.alloc(5 + text.length);
  out[0] = 0x43;
  out.writeInt32BE(4 + text.length, 1);
  text.copy(out, 5);
  return out;
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
      case 'state':
        result = await readState(args.checkSql);
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
