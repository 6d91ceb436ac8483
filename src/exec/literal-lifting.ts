/**
 * Auto-parameterisation of a client's simple-protocol read: its literals become $n
 * parameters so that the engine can reuse one prepared plan for every lookup of the same
 * shape (planning is most of an engine query's cost: ~0.4 ms planned vs ~0.13 ms prepared).
 * Whatever cannot be lifted safely is left alone; the store falls back to a plain query.
 */
import type { LiftedQuery } from '../catalog/store.js';
import { tokenize, type Token } from '../sql/lexer.js';
import type { Skeleton } from './skeleton.js';

export type { LiftedQuery };


type Node = Record<string, unknown>;

interface Literal {
  readonly location: number;
  readonly value: string;
  readonly type: number;
}

const INT4 = 23;
const INT8 = 20;
const NUMERIC = 1700;
const INT8_MAX = 9223372036854775807n;

/**
 * Parameterise `sql` given its parsed SelectStmt, or return undefined when it should run as is.
 * With a `skeleton` (see skeleton.ts), the tree was parsed from it: offsets are mapped back,
 * and the values of the literals it left out come from our lexer.
 */
export function liftLiterals(sql: string, select: Node, knownTokens?: readonly Token[], skeleton?: Skeleton): LiftedQuery | undefined {
  // Byte offsets from the parser equal string offsets only for ASCII text.
  const parsed = skeleton?.text ?? sql;
  if (!/^[\x00-\x7f]*$/.test(parsed) || /\$\d/.test(parsed)) return undefined;
  const literals: Literal[] = [];
  collect(select, literals, false);
  if (literals.length === 0) return undefined;
  const tokens = knownTokens ?? tokenize(sql);
  const byStart = new Map(tokens.map((t) => [t.start, t]));
  let text = '';
  let at = 0;
  const params: string[] = [];
  const types: number[] = [];
  const located = literals.map((lit) => ({ ...lit, location: skeleton ? skeleton.toOriginal(lit.location) : lit.location }));
  for (const lit of located.sort((a, b) => a.location - b.location)) {
    const token = byStart.get(lit.location);
    if (!token || (token.kind !== 'string' && token.kind !== 'number') || token.start < at) continue;
    params.push(skeleton?.replaced.has(token.start) ? token.value : lit.value);
    types.push(lit.type);
    text += `${sql.slice(at, token.start)}$${params.length}`;
    at = token.end;
  }
  if (params.length === 0) return undefined;
  return { text: text + sql.slice(at), params, types };
}

function collect(node: unknown, out: Literal[], positional: boolean): void {
  if (Array.isArray(node)) {
    for (const n of node) collect(n, out, positional);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const obj = node as Node;
  for (const [key, value] of Object.entries(obj)) {
    // Type modifiers (varchar(10)) and type-literal syntax (interval '1 day') must stay literal.
    if (key === 'TypeName' || key === 'typeName' || key === 'TypeCast') continue;
    // ORDER BY 1 / GROUP BY 1 name output columns: a parameter there would sort by a constant.
    if (key === 'sortClause' || key === 'groupClause' || key === 'distinctClause') {
      collect(value, out, true);
      continue;
    }
    if (key === 'A_Const') {
      const lit = literalOf(value as Node, positional);
      if (lit) out.push(lit);
      continue;
    }
    if (key === 'SortBy' || key === 'ResTarget' || key === 'A_Expr' || key === 'FuncCall') {
      // Below these, a constant is an expression again, not a position.
      collect(value, out, key === 'SortBy' ? positional && isBareConst(value as Node) : false);
      continue;
    }
    collect(value, out, positional);
  }
}

function isBareConst(sortBy: Node): boolean {
  return typeof sortBy.node === 'object' && sortBy.node !== null && 'A_Const' in (sortBy.node as Node);
}

function literalOf(c: Node, positional: boolean): Literal | undefined {
  const location = c.location;
  if (typeof location !== 'number' || location < 0) return undefined;
  if (c.sval) return { location, value: String((c.sval as Node).sval ?? ''), type: 0 };
  if (positional) return undefined;
  if (c.ival) {
    const v = Number((c.ival as Node).ival ?? 0);
    return { location, value: String(v), type: Number.isSafeInteger(v) && Math.abs(v) < 2 ** 31 ? INT4 : INT8 };
  }
  if (c.fval) {
    // PostgreSQL types a whole number too big for int4 as int8 while it fits, numeric beyond.
    const value = String((c.fval as Node).fval);
    const int8 = /^-?\d+$/.test(value) && BigInt(value) <= INT8_MAX && BigInt(value) >= -INT8_MAX - 1n;
    return { location, value, type: int8 ? INT8 : NUMERIC };
  }
  return undefined;
}
