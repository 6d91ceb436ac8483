/**
 * The read-only gate for everything that is not one of our own statements (docs/design.md §3):
 * the statement is parsed with the real PostgreSQL parser and only reads pass to the
 * engine; session and transaction commands are answered by the session itself.
 */
import { loadModule, normalizeSync, parseSync } from 'libpg-query';
import { SqlError, SqlState } from '../errors.js';
import { describeToken, tokenize, type Token } from '../sql/lexer.js';
import { liftLiterals, type LiftedQuery } from './literal-lifting.js';
import { skeletonConfirmed, skeletonOf, type Skeleton } from './skeleton.js';

export type GatedStatement =
  /** `text` is what the engine runs; `lifted`, its parameterised form; `parsedText`, its skeleton if it had one (for logs). */
  /**
   * `text` is what the engine runs; `lifted`, its parameterised form; `parsedText`, its skeleton
   * if it had one (for logs); `deterministic`: its answer depends only on its text, parameters,
   * the session's settings and the catalog (docs/design.md §3, "Reads that repeat").
   */
  | { readonly kind: 'read'; readonly text: string; readonly lifted?: LiftedQuery; readonly parsedText?: string; readonly deterministic?: boolean }
  | { readonly kind: 'show'; readonly name: string }
  | { readonly kind: 'set'; readonly name: string; readonly value: string | undefined; readonly args: readonly SetArg[] }
  | { readonly kind: 'reset_all' }
  /** `readOnly`: BEGIN READ ONLY / READ WRITE (undefined: the session's default). */
  | { readonly kind: 'transaction'; readonly action: TransactionAction; readonly readOnly?: boolean }
  | { readonly kind: 'deallocate'; readonly name: string | undefined }
  | { readonly kind: 'discard_all' };

export type SetArg = { readonly kind: 'string' | 'number' | 'word'; readonly value: string };

export type TransactionAction = 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollback_to';

/** Schemas whose functions a client query may name. */
const FUNCTION_SCHEMAS = new Set(['pg_catalog', 'mz_catalog', 'mz_internal', 'information_schema']);

/**
 * The functions client queries may call: exactly those the engine lets the client role execute
 * (migrations/0002 revokes the rest), read from the engine at start. An allow-list: a function
 * not on it, in a schema not above, or before the gate is initialised, is refused.
 */
let allowedFunctions: ReadonlySet<string> = new Set();

/**
 * Functions whose result depends only on their arguments, the session's settings and the catalog:
 * the immutable ones (read from the engine at start) and these stable ones that psql and drivers
 * call to describe the catalog. Never the clock (now(), CURRENT_TIMESTAMP), never a volatile one.
 */
let repeatableFunctions: ReadonlySet<string> = new Set();
const REPEATABLE_STABLE = [
  'format_type', 'pg_get_userbyid', 'pg_get_expr', 'pg_get_viewdef', 'pg_get_indexdef', 'pg_get_constraintdef', 'pg_get_function_arguments',
  'pg_get_function_result', 'pg_get_function_identity_arguments', 'pg_table_is_visible', 'pg_type_is_visible', 'pg_function_is_visible',
  'obj_description', 'col_description', 'shobj_description', 'current_schema', 'current_schemas', 'current_setting', 'current_database',
  'version', 'pg_encoding_to_char', 'has_table_privilege', 'has_schema_privilege', 'has_function_privilege', 'has_database_privilege',
  'pg_has_role', 'to_regclass', 'to_regtype', 'to_regproc', 'to_regnamespace', 'to_regrole', 'pg_get_keywords', 'to_char',
  'jsonb_pretty', 'array_to_string', 'string_agg', 'array_agg', 'jsonb_agg', 'json_agg', 'jsonb_object_agg', 'count', 'max', 'min', 'sum', 'avg',
  'bool_and', 'bool_or', 'every', 'row_number', 'rank', 'dense_rank',
];
/** Views whose rows change without the catalog changing (activity, statistics, locks). */
const LIVE_RELATION = /^pg_(stat|locks$|settings$|file_settings$|backend_memory_contexts$|shmem_allocations$|prepared_xacts$|replication|hba_file_rules$|ident_file_mappings$|cursors$|prepared_statements$|timezone_names$|wait_events$)/;
/**
 * Date/time input words that mean "the current moment" wherever they are read as a date or time
 * (`'now'::timestamptz`, `col > 'today 12:00'`): a read with such a literal does not repeat.
 */
const CLOCK_WORDS = /\b(now|today|tomorrow|yesterday)\b/i;
/** Types whose text input may read the clock: a cast to one (of a computed text too) does not repeat. */
const CLOCK_TYPES = /^(date|time|timetz|timestamp|timestamptz|daterange|tsrange|tstzrange|datemultirange|tsmultirange|tstzmultirange)$/;
/**
 * Views that show the engine session's own prepared statements and cursors: on the shared store a
 * pooled session's are other clients' (migrations/0002 revokes them too, where it may).
 */
const SESSION_VIEWS = new Set(['pg_prepared_statements', 'pg_cursors']);

/** Statement node types that write data or schema: refused as read-only (25006). */
const WRITES: Record<string, string> = {
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
  TruncateStmt: 'TRUNCATE',
  // Only COPY ... FROM reaches this table: COPY ... TO STDOUT is a read (gateCopy).
  CopyStmt: 'COPY FROM',
  CreateStmt: 'CREATE TABLE',
  CreateTableAsStmt: 'CREATE TABLE AS',
  ViewStmt: 'CREATE VIEW',
  IndexStmt: 'CREATE INDEX',
  CreateSchemaStmt: 'CREATE SCHEMA',
  CreateFunctionStmt: 'CREATE FUNCTION',
  CreateSeqStmt: 'CREATE SEQUENCE',
  CreateRoleStmt: 'CREATE ROLE',
  CreatedbStmt: 'CREATE DATABASE',
  AlterTableStmt: 'ALTER TABLE',
  AlterRoleStmt: 'ALTER ROLE',
  DropStmt: 'DROP',
  DropRoleStmt: 'DROP ROLE',
  GrantStmt: 'GRANT',
  GrantRoleStmt: 'GRANT',
  RenameStmt: 'ALTER ... RENAME',
  CommentStmt: 'COMMENT',
  RefreshMatViewStmt: 'REFRESH MATERIALIZED VIEW',
  VacuumStmt: 'VACUUM',
  ClusterStmt: 'CLUSTER',
  ReindexStmt: 'REINDEX',
};

/**
 * Load the parser, the functions client queries may call and those of them that are immutable
 * (lower-case names).
 */
export async function initQueryGate(functions: Iterable<string>, immutable: Iterable<string> = []): Promise<void> {
  await loadModule();
  allowedFunctions = new Set([...functions].map((f) => f.toLowerCase()));
  repeatableFunctions = new Set([...[...immutable].map((f) => f.toLowerCase()), ...REPEATABLE_STABLE]);
}

type Node = Record<string, unknown>;

/** Classify one statement (no trailing semicolon) that is not one of our own. */
export function gateStatement(sql: string, knownTokens?: readonly Token[]): GatedStatement {
  const tokens = knownTokens ?? tokenize(sql);
  let skeleton = skeletonOf(sql, tokens);
  let stmts: { stmt?: Node }[] | undefined;
  if (skeleton) {
    try {
      stmts = parsed(skeleton.text);
    } catch {
      // Parse the whole statement instead: its own error, at its own position.
    }
    if (!stmts || !skeletonConfirmed(skeleton, stmts)) {
      skeleton = undefined;
      stmts = undefined;
    }
  }
  try {
    stmts ??= parsed(sql);
  } catch (err) {
    throw syntaxErrorFrom(err, tokens);
  }
  if (stmts.length !== 1 || !stmts[0]!.stmt) {
    throw new SqlError(SqlState.syntaxError, 'expected exactly one statement');
  }
  const [type, body] = Object.entries(stmts[0]!.stmt)[0] as [string, Node];
  switch (type) {
    case 'SelectStmt': {
      checkSelect(body);
      checkFunctions(body);
      const lifted = liftLiterals(sql, body, tokens, skeleton);
      const deterministic = !skeleton && repeats(body) && !(lifted?.params.some((p) => CLOCK_WORDS.test(p)) ?? false);
      return { kind: 'read', text: sql, lifted, parsedText: skeleton?.text, deterministic };
    }
    case 'ExplainStmt': {
      const [innerType, inner] = Object.entries(body.query as Node)[0] as [string, Node];
      if (innerType !== 'SelectStmt') throw refused(innerType);
      checkSelect(inner);
      checkFunctions(inner);
      return { kind: 'read', text: sql, parsedText: skeleton?.text };
    }
    case 'CopyStmt':
      return gateCopy(sql, body, tokens, skeleton);
    case 'VariableShowStmt':
      return { kind: 'show', name: String(body.name ?? '').toLowerCase() };
    case 'VariableSetStmt':
      return planSet(body);
    case 'TransactionStmt':
      return { kind: 'transaction', action: transactionAction(String(body.kind)), readOnly: readOnlyOption(body.options) };
    case 'DeallocateStmt':
      return { kind: 'deallocate', name: body.isall ? undefined : (body.name as string | undefined) };
    case 'DiscardStmt':
      if (body.target === 'DISCARD_ALL') return { kind: 'discard_all' };
      return { kind: 'reset_all' };
    default:
      throw refused(type);
  }
}

/**
 * `COPY (query) TO STDOUT` is a read, the one psql's `\copy (query) TO file` sends: its query
 * passes exactly the checks of a SELECT, and the engine streams CopyOutResponse, CopyData and
 * CopyDone back. It is never lifted: PostgreSQL takes no parameters in a utility statement.
 * `COPY relation [(columns)] TO STDOUT` runs as `COPY (SELECT columns FROM relation) TO STDOUT`,
 * since PostgreSQL cannot copy from a view and every system table here is one. Files and
 * programs on the server are never a client's (42501, PostgreSQL's own wording); COPY FROM
 * writes (25006).
 */
function gateCopy(sql: string, copy: Node, tokens: readonly Token[], skeleton: Skeleton | undefined): GatedStatement {
  if (copy.is_program || copy.filename !== undefined) {
    const what = copy.is_program ? 'to or from an external program' : copy.is_from ? 'from a file' : 'to a file';
    throw new SqlError(SqlState.insufficientPrivilege, `permission denied to COPY ${what}`, {
      hint: "Anyone can COPY to stdout. psql's \\copy command also works for anyone.",
    });
  }
  if (copy.is_from) throw refused('CopyStmt');
  if (copy.relation) return gateStatement(copyOfRelation(sql, copy, tokens, skeleton));
  const [type, query] = Object.entries((copy.query as Node | undefined) ?? {})[0] ?? ['', {}];
  // COPY (INSERT/UPDATE/DELETE/MERGE ... RETURNING) TO STDOUT writes: refused like the statement.
  if (type !== 'SelectStmt') throw refused(type);
  checkSelect(query as Node);
  checkFunctions(copy);
  return { kind: 'read', text: sql, parsedText: skeleton?.text };
}

/** `COPY relation [(columns)] ...` written as `COPY (SELECT columns FROM relation) ...`, the rest as the client wrote it. */
function copyOfRelation(sql: string, copy: Node, tokens: readonly Token[], skeleton: Skeleton | undefined): string {
  const unsupported = (): SqlError =>
    new SqlError(SqlState.featureNotSupported, 'COPY of this relation is not supported', { hint: 'Write it as COPY (SELECT * FROM relation) TO STDOUT.' });
  const parsedText = skeleton?.text ?? sql;
  const location = (copy.relation as Node).location;
  if (typeof location !== 'number') throw unsupported();
  // The parser's offsets count UTF-8 bytes; the lexer's, characters.
  const offset = Buffer.from(parsedText).subarray(0, location).toString().length;
  const start = skeleton ? skeleton.toOriginal(offset) : offset;
  const isName = (t: Token | undefined): boolean => t?.kind === 'word' || t?.kind === 'quoted';
  const isOp = (t: Token | undefined, value: string): boolean => t?.kind === 'op' && t.value === value;
  let i = tokens.findIndex((t) => t.start === start);
  if (i < 0 || !isName(tokens[i])) throw unsupported();
  let end = tokens[i]!.end;
  for (i++; isOp(tokens[i], '.') && isName(tokens[i + 1]); i += 2) end = tokens[i + 1]!.end;
  const relation = sql.slice(start, end);
  let columns = '*';
  if (copy.attlist) {
    if (!isOp(tokens[i], '(')) throw unsupported();
    const close = tokens.findIndex((t, j) => j > i && isOp(t, ')'));
    if (close < 0) throw unsupported();
    columns = sql.slice(tokens[i]!.end, tokens[close]!.start);
    end = tokens[close]!.end;
    i = close + 1;
  }
  // Anything else between the name and TO (a U&"..." name) is not what we took for the relation.
  if (tokens[i]?.kind !== 'word' || tokens[i]!.value !== 'to') throw unsupported();
  return `${sql.slice(0, start)}(SELECT ${columns} FROM ${relation})${sql.slice(end)}`;
}

function checkSelect(select: Node): void {
  if (select.intoClause) throw refused('CreateTableAsStmt');
  const ctes = ((select.withClause as Node | undefined)?.ctes as Node[] | undefined) ?? [];
  for (const cte of ctes) {
    const query = (cte.CommonTableExpr as Node | undefined)?.ctequery as Node | undefined;
    const [type, body] = Object.entries(query ?? {})[0] ?? ['', {}];
    if (type !== 'SelectStmt') throw refused(type);
    checkSelect(body as Node);
  }
  for (const side of ['larg', 'rarg']) if (select[side]) checkSelect(select[side] as Node);
}

function parsed(sql: string): { stmt?: Node }[] {
  return (parseSync(sql) as { stmts?: { stmt?: Node }[] }).stmts ?? [];
}

/** Refuse any call of a function that is not on the allow-list. */
function checkFunctions(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) checkFunctions(n);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const obj = node as Node;
  const range = obj.RangeVar as Node | undefined;
  const relname = String(range?.relname ?? '').toLowerCase();
  if (SESSION_VIEWS.has(relname) && [undefined, 'pg_catalog'].includes(range?.schemaname as string | undefined)) {
    throw new SqlError(SqlState.insufficientPrivilege, `permission denied for view ${relname}`, {
      position: typeof range!.location === 'number' ? range!.location : undefined,
    });
  }
  const call = obj.FuncCall as Node | undefined;
  if (call) {
    const parts = (call.funcname as { String?: { sval?: string } }[]).map((p) => (p.String?.sval ?? '').toLowerCase());
    const name = parts[parts.length - 1]!;
    const schema = parts.length > 1 ? parts[parts.length - 2]! : undefined;
    if ((schema !== undefined && !FUNCTION_SCHEMAS.has(schema)) || !allowedFunctions.has(name)) {
      throw new SqlError(SqlState.insufficientPrivilege, `permission denied for function ${name}`, {
        position: typeof call.location === 'number' ? call.location : undefined,
        hint: 'Client queries may read the catalog; they may not change settings, run SQL text or reach files and the server.',
      });
    }
  }
  for (const value of Object.values(obj)) checkFunctions(value);
}

/**
 * Whether a SELECT's answer depends only on its text, parameters, settings and the catalog: it
 * calls only repeatable functions, never the clock, reads no live statistics view, and casts no
 * clock word.
 */
function repeats(node: unknown): boolean {
  if (Array.isArray(node)) return node.every(repeats);
  if (node === null || typeof node !== 'object') return true;
  const obj = node as Node;
  const call = obj.FuncCall as Node | undefined;
  if (call) {
    const parts = (call.funcname as { String?: { sval?: string } }[]).map((p) => (p.String?.sval ?? '').toLowerCase());
    if (!repeatableFunctions.has(parts[parts.length - 1]!)) return false;
  }
  const svf = obj.SQLValueFunction as Node | undefined;
  if (svf && /DATE|TIME/.test(String(svf.op))) return false;
  const range = obj.RangeVar as Node | undefined;
  if (range && LIVE_RELATION.test(String(range.relname ?? '').toLowerCase())) return false;
  const constant = obj.A_Const as Node | undefined;
  if (constant?.sval && CLOCK_WORDS.test(String((constant.sval as Node).sval ?? ''))) return false;
  const cast = obj.TypeCast as Node | undefined;
  if (cast) {
    const names = ((cast.typeName as Node | undefined)?.names as { String?: { sval?: string } }[] | undefined) ?? [];
    if (CLOCK_TYPES.test(names.at(-1)?.String?.sval ?? '')) return false;
  }
  return Object.values(obj).every(repeats);
}

function planSet(body: Node): GatedStatement {
  const kind = String(body.kind);
  const name = String(body.name ?? '').toLowerCase();
  switch (kind) {
    case 'VAR_RESET_ALL':
      return { kind: 'reset_all' };
    case 'VAR_RESET':
    case 'VAR_SET_DEFAULT':
      return { kind: 'set', name, value: undefined, args: [] };
    case 'VAR_SET_VALUE': {
      const args = ((body.args as Node[] | undefined) ?? []).map(setArg);
      return { kind: 'set', name, value: args.map((a) => a.value).join(', '), args };
    }
    case 'VAR_SET_MULTI': {
      // SET TRANSACTION ... / SET SESSION CHARACTERISTICS AS TRANSACTION ...: READ ONLY and
      // READ WRITE are kept (they decide whether catalog changes are allowed); the rest is accepted.
      const readOnly = readOnlyOption(body.args);
      if (readOnly === undefined) return { kind: 'set', name: 'transaction', value: '', args: [] };
      const target = name === 'transaction' ? 'transaction_read_only' : 'default_transaction_read_only';
      const value = readOnly ? 'on' : 'off';
      return { kind: 'set', name: target, value, args: [{ kind: 'word', value }] };
    }
    default:
      throw new SqlError(SqlState.featureNotSupported, `SET ${name} FROM CURRENT is not supported`);
  }
}

function setArg(node: Node): SetArg {
  const c = node.A_Const as Node | undefined;
  if (c?.sval) return { kind: 'string', value: String((c.sval as Node).sval ?? '') };
  if (c?.ival) return { kind: 'number', value: String((c.ival as Node).ival ?? 0) };
  if (c?.fval) return { kind: 'number', value: String((c.fval as Node).fval) };
  if (c?.boolval) return { kind: 'word', value: (c.boolval as Node).boolval ? 'on' : 'off' };
  if (c && 'isnull' in c) return { kind: 'word', value: '' };
  const cast = node.TypeCast as Node | undefined;
  if (cast) return setArg(cast.arg as Node);
  throw new SqlError(SqlState.featureNotSupported, 'SET takes literal values only');
}

/** READ ONLY (true) or READ WRITE (false) among a transaction's options, if given. */
function readOnlyOption(options: unknown): boolean | undefined {
  for (const o of (options as Node[] | undefined) ?? []) {
    const def = o.DefElem as Node | undefined;
    if (def?.defname !== 'transaction_read_only') continue;
    const value = ((def.arg as Node | undefined)?.A_Const as Node | undefined)?.ival as Node | undefined;
    return Number(value?.ival ?? 0) === 1;
  }
  return undefined;
}

function transactionAction(kind: string): TransactionAction {
  switch (kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START':
      return 'begin';
    case 'TRANS_STMT_COMMIT':
      return 'commit';
    case 'TRANS_STMT_ROLLBACK':
      return 'rollback';
    case 'TRANS_STMT_SAVEPOINT':
      return 'savepoint';
    case 'TRANS_STMT_RELEASE':
      return 'release';
    case 'TRANS_STMT_ROLLBACK_TO':
      return 'rollback_to';
    default:
      throw new SqlError(SqlState.featureNotSupported, 'two-phase commit is not supported');
  }
}

function refused(nodeType: string): SqlError {
  const write = WRITES[nodeType];
  if (write) {
    return new SqlError(SqlState.readOnlySqlTransaction, `cannot execute ${write}: the catalog is read-only through SQL queries`, {
      hint: 'Change the catalog with CREATE, ALTER and DROP of SECRET and CONNECTION.',
    });
  }
  const what = nodeType.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
  return new SqlError(SqlState.insufficientPrivilege, `permission denied: iamlink does not run ${what} statements`, {
    hint: 'Client queries may SELECT from the system tables; see SHOW CONNECTIONS and SHOW SECRETS.',
  });
}

/** A 42601 error at libpg-query's position, described by our lexer so that no literal is echoed. */
function syntaxErrorFrom(err: unknown, tokens: readonly Token[]): SqlError {
  const position = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails?.cursorPosition ?? 0;
  const token = tokens.find((t) => t.start <= position && position < Math.max(t.end, t.start + 1)) ?? { kind: 'eof' as const, value: '', start: 0, end: 0 };
  return new SqlError(SqlState.syntaxError, `syntax error at or near ${describeToken(token)}`, { position });
}

/** The statement with its literals replaced by $n, for logs. */
export function normalizeForLog(sql: string): string {
  try {
    return normalizeSync(sql);
  } catch {
    return '<unparsable statement>';
  }
}
