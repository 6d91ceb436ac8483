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
