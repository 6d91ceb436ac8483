// The embedded engine's thread: PGlite runs here so that the server can stop a query that
// overruns its timeout by terminating this thread (WebAssembly has no timer signals, so
// PostgreSQL's statement_timeout never fires inside PGlite). Plain JavaScript: it is loaded
// as is by worker_threads, from src/ under the test runner and from dist/ in production.
import { PGlite } from '@electric-sql/pglite';
import { parentPort, workerData } from 'node:worker_threads';

const pg = await PGlite.create(workerData.dataDir);

parentPort.on('message', async ({ id, op, args }) => {
  try {
    let result;
    switch (op) {
      case 'query':
        result = (await pg.query(args.sql, args.params)).rows;
        break;
      case 'exec':
        await pg.exec(args.sql);
        break;
      case 'raw': {
        // A client's messages; never leave the shared session inside a transaction after them.
        result = await pg.execProtocolRaw(args.messages, { syncToFs: args.syncToFs });
        if (pg.isInTransaction()) await pg.exec('ROLLBACK');
        break;
      }
      case 'close':
        await pg.close();
        break;
      default:
        throw new Error(`unknown engine op ${op}`);
    }
    parentPort.postMessage({ id, ok: true, result });
  } catch (err) {
    parentPort.postMessage({ id, ok: false, error: { message: err?.message ?? String(err), code: err?.code } });
  }
});
parentPort.postMessage({ ready: true });
