/**
 * Bind parameters for our own statements (beyond Materialize): `CREATE SECRET s AS $1` lets a
 * driver send a secret as a parameter, never inside SQL text. Each $n in the statement is
 * replaced by its value before planning; the values are never logged (logs print `$1`).
 */
import { SqlError, SqlState } from '../errors.js';
import type { BindValues } from '../protocol-frames.js';
import type { OptionValue, Statement } from '../sql/ast.js';
import { decodeUtf8 } from '../utf8.js';

type Param = Extract<OptionValue, { kind: 'param' }>;

/** The highest $n a statement uses (0 if none). */
export function paramCount(stmt: Statement): number {
  let max = 0;
  visit(stmt, (p) => {
    max = Math.max(max, p.index);
    return p;
  });
  return max;
}

/** `stmt` with every $n replaced by the n-th Bind value; without values, $n is an error. */
export function bindParams(stmt: Statement, bind: BindValues | undefined): Statement {
  return visit(stmt, (p) => {
    const value = bind?.params[p.index - 1];
    if (!bind || value === undefined) throw new SqlError(SqlState.undefinedParameter, `there is no parameter $${p.index}`, { position: p.pos });
    if (value === null) throw new SqlError(SqlState.nullValueNotAllowed, `parameter $${p.index} must not be NULL`, { position: p.pos });
    // Text and binary formats carry the same bytes for a text value.
    return { kind: 'string', value: decodeUtf8(value, `parameter $${p.index}`), pos: p.pos };
  });
}

/** A copy of `node` with every param value mapped (the AST is plain data). */
function visit<T>(node: T, map: (p: Param) => OptionValue): T {
  if (Array.isArray(node)) return node.map((n) => visit(n, map)) as T;
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  if (obj.kind === 'param' && typeof obj.index === 'number') return map(obj as unknown as Param) as T;
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, visit(v, map)])) as T;
}
