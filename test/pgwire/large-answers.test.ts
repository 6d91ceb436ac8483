/**
 * Answers of any length reach every client whole: the engine runs a portal in chunks, but the
 * client sees one answer with one CommandComplete that counts every row; and the result cap
 * holds however few rows carry the bytes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { errorOf, useTestServer } from '../support/server.js';

const SIZES = [1, 999, 1000, 1001, 2000, 2500, 12_345];

describe('large answers', () => {
  const server = useTestServer(['--max-result-bytes', String(4 * 1024 * 1024)]);

  it('carry every row and the right row count, simple and extended, in turn in one session', async () => {
    const c = await server().client();
    for (const n of SIZES) {
      const simple = await c.query(`SELECT g FROM generate_series(1, ${n}) g`);
      expect([simple.rowCount, simple.rows.length, simple.rows.at(-1)?.g], `simple ${n}`).toEqual([n, n, n]);
      const extended = await c.query({ text: 'SELECT g FROM generate_series(1, $1::int) g', values: [n] });
      expect([extended.rowCount, extended.rows.length], `extended ${n}`).toEqual([n, n]);
      const named = await c.query({ name: `rows_${n}`, text: `SELECT g FROM generate_series(1, ${n}) g`, values: [] });
      expect([named.rowCount, named.rows.length], `named ${n}`).toEqual([n, n]);
    }
    expect((await c.query('SELECT 1 AS still')).rows).toEqual([{ still: 1 }]);
  });

  it('reach psql whole', async () => {
    // Asynchronously: the server runs in this process and must keep answering.
    const { stdout: out } = await promisify(execFile)('psql', ['-X', '-v', 'ON_ERROR_STOP=1', server().url, '-c', 'SELECT g FROM generate_series(1, 2500) g'], { encoding: 'utf8' });
    expect(out).toContain('(2500 rows)');
    expect(out).toContain(' 2500\n');
  });

  it('are capped by bytes, however few rows carry them', async () => {
    const c = await server().client();
    for (const [rows, width] of [[1, 5_000_000], [5, 1_000_000], [999, 10_000], [3000, 2000]]) {
      const err = await errorOf(c.query(`SELECT repeat('x', ${width}) FROM generate_series(1, ${rows})`));
      expect(err, `${rows} × ${width}`).toMatchObject({ code: '54000' });
      expect(err.message).toContain(String(4 * 1024 * 1024));
    }
    expect((await c.query("SELECT length(repeat('x', 1000000)) AS n")).rows).toEqual([{ n: 1000000 }]);
  });
});

describe('a client that sends without reading', () => {
  const server = useTestServer(['--max-message-bytes', String(1024 * 1024)]);

  it('is read no further once its answers and one message wait: what it can push is bounded', async () => {
    const { connect } = await import('node:net');
    const { serialize } = await import('pg-protocol');
    const socket = connect(server().port, server().host);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => undefined);
    socket.pause(); // never reads an answer
    socket.write(serialize.startup({ user: 'materialize', database: 'materialize' }));
    // Each query is ~1 MB and its answer ~1 MB: 400 of them would be 400 MB each way.
    const query = serialize.query(`SELECT length('${'x'.repeat(1_000_000)}') AS n, repeat('y', 1000000) AS big`);
    let written = 0;
    for (let i = 0; i < 400; i++) {
      if (!socket.write(query)) {
        const drained = await Promise.race([new Promise<boolean>((r) => socket.once('drain', () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
        if (!drained) break;
      }
      written += query.length;
    }
    // Kernel buffers, one message held by the server and the answers waiting: tens of MB, not 400.
    expect(written).toBeLessThan(100 * 1024 * 1024);
    const c = await server().client();
    expect((await c.query('SELECT 1 AS served')).rows).toEqual([{ served: 1 }]);
    socket.destroy();
  }, 60_000);
});
