import { beforeAll, describe, expect, it } from 'vitest';
import { skeletonOf } from '../../src/exec/skeleton.js';
import { gateStatement, initQueryGate } from '../../src/exec/query-gate.js';
import { tokenize } from '../../src/sql/lexer.js';

const long = (c: string): string => c.repeat(5000);

describe('skeletons of statements with long literals', () => {
  beforeAll(async () => initQueryGate([])); // no server in this file: the parser, no functions
  it('replace only plain and dollar-quoted long literals, and map offsets back', () => {
    const sql = `SELECT '${long('a')}', 1, $$${long('b')}$$ AS x, E'${long('c')}', 'short'`;
    const sk = skeletonOf(sql, tokenize(sql))!;
    expect(sk.text).toBe(`SELECT '', 1, '' AS x, E'${long('c')}', 'short'`);
    expect(sk.toOriginal(sk.text.indexOf('1'))).toBe(sql.indexOf(', 1') + 2);
    expect(sk.toOriginal(sk.text.indexOf('AS'))).toBe(sql.indexOf('AS x'));
    expect(sk.toOriginal(sk.text.indexOf("'short'"))).toBe(sql.indexOf("'short'"));
    expect(sk.replaced).toEqual(new Set([7, sql.indexOf('$$')]));
  });

  it('leave adjacent strings (which PostgreSQL joins) and U& strings alone', () => {
    const joined = `SELECT '${long('a')}'\n'b'`;
    expect(skeletonOf(joined, tokenize(joined))).toBeUndefined();
    const unicode = `SELECT U&'${long('d')}'`;
    expect(skeletonOf(unicode, tokenize(unicode))).toBeUndefined();
  });

  it('give the gate the same answer as the full statement', () => {
    const value = `it''s ${long('v')}`;
    const g = gateStatement(`SELECT name FROM mz_secrets WHERE name = '${value}' OR name = 'x' LIMIT 5`);
    expect(g).toMatchObject({ kind: 'read', lifted: { text: 'SELECT name FROM mz_secrets WHERE name = $1 OR name = $2 LIMIT $3', params: [value.replace("''", "'"), 'x', '5'] } });
    const bad = `SELECT '${long('a')}' FROMM x`;
    expect(() => gateStatement(bad)).toThrow(expect.objectContaining({ code: '42601', position: bad.indexOf('x') }));
  });

  it('are not trusted where PostgreSQL scans the text differently: the whole statement is gated', () => {
    // PostgreSQL ends a -- comment at \r; a lexer that did not would blank code as a "literal".
    const pad = 'x'.repeat(1100);
    for (const code of ["INTO TEMP TABLE pwn FROM pg_class WHERE relname", 'public.foo()', "pg_catalog.set_config('role', 'postgres', false)"]) {
      for (const newline of ['\r', '\n', '\r\n']) {
        const sql = `SELECT --${newline}'\n, '::text AS a ${code} /*${pad}*/ <> ' AS c --${newline}'\nLIMIT 1`;
        let outcome: string;
        try {
          const g = gateStatement(sql);
          outcome = g.kind === 'read' && g.text === sql ? 'read' : g.kind;
        } catch (err) {
          outcome = (err as { code?: string }).code ?? 'error';
        }
        // PostgreSQL reads the code as code whatever the line ending: the gate must refuse it,
        // never pass it on as a read whose "literal" hid it.
        expect(['25006', '42501', '42601'], JSON.stringify(sql.slice(0, 60))).toContain(outcome);
        if (code.includes('INTO')) expect(outcome).toBe('25006');
      }
    }
  });
});
