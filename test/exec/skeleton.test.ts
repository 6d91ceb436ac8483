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
});
