/**
 * Differential test of literal lifting (src/exec/literal-lifting.ts): a corpus of literal
 * expressions, run through every client path of iamlink in interleaved sessions, must get
 * exactly the answers a real PostgreSQL gives.
 *
 * A simple-protocol read has its literals lifted into $n parameters and runs as an engine
 * prepared statement cached per lifted text. `SELECT 5 / 2` and `SELECT 5.0 / 2` lift to one
 * text (`SELECT $1 / $2`) with different parameter types, so the cache must never let one
 * session's literal types (or settings) decide another session's answer. Every query here runs
 * on both servers with the same operations on mirrored sessions, in the same order, and every
 * difference is collected so that a failure shows all of them at once.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateStatement } from '../../src/exec/query-gate.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Groups of queries; the members of a group are each other's "siblings": where lifting applies,
 * they mostly lift to one text with differently typed literals (int4 / numeric / unknown), so
 * running one right after the other is what a text-keyed plan cache gets wrong.
 * No entry depends on the server version (PostgreSQL 15 vs the engine's 18) or on a clock.
 */
const GROUPS: readonly (readonly string[])[] = [
  // SELECT $1 / $2: integer vs numeric division.
  ['SELECT 5 / 2', 'SELECT 5.0 / 2', 'SELECT 5 / 2.0', 'SELECT 5.0 / 2.0', 'SELECT 2147483648 / 2', 'SELECT 7 / 0', 'SELECT 7.0 / 0'],
  // SELECT $1 + $2: overflow, int8 and numeric literals, unknown literals resolved by the other side.
  [
    'SELECT 1 + 1',
    'SELECT 1 + 1.5',
    'SELECT 2147483647 + 1',
    'SELECT 2147483648 + 1',
    'SELECT 9223372036854775807 + 1',
    'SELECT 0.1 + 0.2',
    'SELECT 1.5 + 1',
    "SELECT '1' + 1",
    "SELECT 'a' + 1",
    "SELECT '1' + 1.5",
  ],
  // SELECT $1 * $2
  ['SELECT 1.50 * 2', 'SELECT 2 * 2', 'SELECT 2147483647 * 2', 'SELECT 2147483647 * 2.0'],
  // SELECT $1 % $2
  ['SELECT 7 % 3', 'SELECT 7.5 % 2', 'SELECT 7 % 0'],
  // Negative literals are folded by the parser (-3 is one constant).
  ['SELECT -3 / 2', 'SELECT -3 / 2.0', 'SELECT -3.0 / 2'],
  // SELECT $1: the literal's own type decides the column type.
  ['SELECT 1', 'SELECT 1.0', "SELECT 'a'", 'SELECT 1e3', 'SELECT .5', 'SELECT 2147483648', 'SELECT 9223372036854775807', 'SELECT 9223372036854775808'],
  ['SELECT 2 ^ 3', 'SELECT 2.0 ^ 3'],
  // Comparisons: SELECT $1 = $2 / SELECT $1 < $2 (text vs integer comparison).
  ['SELECT 1 = 1.0', 'SELECT 1 = 1', "SELECT 'a' = 'a'", "SELECT 'x' = 'y'"],
  ["SELECT 'a' < 'b'", 'SELECT 2 < 10', "SELECT '2' < '10'", "SELECT 2 < '10'", 'SELECT 2.5 < 10'],
  // Strings.
  ["SELECT length('abc')", "SELECT length('')"],
  ["SELECT upper('x')"],
  ["SELECT 'a' || 'b'", "SELECT 'x' || 1", "SELECT 1 || 'x'", "SELECT 'x' || 1.5"],
  ["SELECT substr('hello', 2, 3)", "SELECT substr('hello', 2)"],
  ["SELECT repeat('ab', 3)", "SELECT repeat('ab', 0)"],
  ["SELECT position('b' in 'abc')", "SELECT position('z' in 'abc')"],
  ["SELECT 'it''s'", "SELECT E'a\\tb'"],
  ["SELECT 'abc' LIKE 'a%'", "SELECT 'abc' LIKE 'b%'"],
  // Casts and typed literals stay literal; only the untyped literal beside them is lifted.
  ["SELECT '1'::int + 1", "SELECT '1'::int + 1.5"],
  ["SELECT interval '1 day' + interval '2 hours'"],
  ["SELECT '2024-01-01'::date + 1", "SELECT '2024-01-01'::date + 1.5"],
  ['SELECT 10::numeric / 4', 'SELECT 10::numeric / 4.0', 'SELECT 10::int / 4'],
  ["SELECT '{1,2}'::int[]", "SELECT CAST('5' AS int) / 2"],
  // CASE, COALESCE, NULLIF, GREATEST, LEAST.
  ["SELECT CASE WHEN 1 > 0 THEN 'pos' ELSE 'neg' END", 'SELECT CASE WHEN 1 > 0 THEN 1 ELSE 2.5 END', 'SELECT CASE WHEN 1 > 0 THEN 1 ELSE 2 END'],
  ['SELECT COALESCE(NULL, 2)', 'SELECT COALESCE(NULL, 2.5)', "SELECT COALESCE(NULL, 'x')"],
  ['SELECT NULLIF(1, 1)', 'SELECT NULLIF(1, 2)', 'SELECT NULLIF(1.5, 1)'],
  ['SELECT GREATEST(1, 2, 3)', 'SELECT GREATEST(1, 2.5, 3)', "SELECT GREATEST('a', 'b', 'c')"],
  ['SELECT LEAST(4, 2, 3)', 'SELECT LEAST(4, 2.5, 3)'],
  // IN lists.
  ['SELECT 1 IN (1, 2.5)', 'SELECT 1 IN (1, 2)', 'SELECT 2.5 IN (1, 2.5)', "SELECT 'a' IN ('a', 'b')"],
  // Arrays.
  ['SELECT ARRAY[1,2] || 3', 'SELECT ARRAY[1,2] || 3.5', 'SELECT ARRAY[1.5,2] || 3'],
  ['SELECT (ARRAY[10,20,30])[2]', 'SELECT (ARRAY[10,20,30.5])[3]'],
  // jsonb: -> with an integer picks an array element, with an unknown literal a key.
  ["SELECT '{\"a\":1}'::jsonb -> 'a'", "SELECT '{\"a\":1}'::jsonb ->> 'a'"],
  ["SELECT '[10,20]'::jsonb -> 1", "SELECT '[10,20]'::jsonb -> '1'"],
  ["SELECT jsonb_build_object('k', 1)", "SELECT jsonb_build_object('k', 1.5)", "SELECT jsonb_build_object('k', 'v')"],
  // Booleans.
  ['SELECT true AND false', "SELECT 1 < 2 AND 'b' > 'a'", "SELECT true = 't'"],
  // NULL handling.
  ['SELECT NULL::int + 1', 'SELECT NULL::int + 1.5'],
  ['SELECT 1 + NULL', 'SELECT 1.5 + NULL', "SELECT 'a' || NULL"],
  ['SELECT NULL IS NULL', 'SELECT 1 IS NULL'],
  // LIMIT / OFFSET, ORDER BY and GROUP BY positions, set operations, VALUES.
  [
    'SELECT * FROM generate_series(1, 5) LIMIT 2',
    'SELECT * FROM generate_series(1, 5) LIMIT 2.5',
    'SELECT * FROM generate_series(1.5, 5) LIMIT 2',
    'SELECT * FROM generate_series(1, 5) LIMIT 2 OFFSET 1',
  ],
  ['SELECT g FROM generate_series(1, 5) g ORDER BY 1 DESC LIMIT 3', 'SELECT g FROM generate_series(1.5, 5) g ORDER BY 1 DESC LIMIT 3'],
  [
    'SELECT g % 2 AS k, count(*) FROM generate_series(1, 6) g GROUP BY 1 ORDER BY 1',
    'SELECT g % 2.0 AS k, count(*) FROM generate_series(1, 6) g GROUP BY 1 ORDER BY 1',
    'SELECT g % 2, count(*) FROM generate_series(1, 6) g GROUP BY g % 2 ORDER BY 1',
  ],
  ["SELECT 'b' AS x UNION ALL SELECT 'a' ORDER BY 1", 'SELECT 2 AS x UNION ALL SELECT 1.5 ORDER BY 1'],
  ['SELECT x FROM (VALUES (1), (2.5)) v(x) ORDER BY 1', 'SELECT x FROM (VALUES (1), (2)) v(x) ORDER BY 1'],
  ["SELECT 1 AS a, 2.5 AS b, 'c' AS c", "SELECT 1.5 AS a, 2 AS b, 'c' AS c"],
  // Numeric functions.
  ['SELECT round(2.5)', 'SELECT round(2)'],
  ['SELECT round(2.567, 2)', 'SELECT round(2.567, 1)'],
  ['SELECT abs(-2)', 'SELECT abs(0 - 2)', 'SELECT abs(0 - 2.5)'],
  // pg_typeof shows the type each literal (or expression of literals) really has.
  ['SELECT pg_typeof(1)', 'SELECT pg_typeof(1.0)', "SELECT pg_typeof('a')", 'SELECT pg_typeof(2147483648)', 'SELECT pg_typeof(9223372036854775808)'],
  ['SELECT pg_typeof(1 + 1)', 'SELECT pg_typeof(1 + 1.5)', 'SELECT pg_typeof(2147483648 + 1)'],
];

interface Entry {
  readonly sql: string;
  readonly sibling: string;
}

const CORPUS: readonly Entry[] = GROUPS.flatMap((g) => g.map((sql, i) => ({ sql, sibling: g[(i + 1) % g.length]! })));

type Outcome = { readonly fields: readonly { name: string; dataTypeID: number }[]; readonly rows: readonly unknown[][] } | { readonly error: string };

interface Mismatch {
  readonly sql: string;
  readonly path: string;
  readonly expected: Outcome;
  readonly actual: Outcome;
}

type Mode = { readonly kind: 'simple' } | { readonly kind: 'extended' } | { readonly kind: 'named'; readonly name: string };

/** node-postgres sends the extended protocol for `queryMode: 'extended'` (an empty `values` alone does not). */
function configFor(sql: string, mode: Mode): pg.QueryArrayConfig {
  const base = { text: sql, rowMode: 'array' as const };
  switch (mode.kind) {
    case 'simple':
      return base;
    case 'extended': {
      const config = { ...base, values: [], queryMode: 'extended' };
      return config;
    }
    case 'named':
      return { ...base, name: mode.name, values: [] };
  }
}

/** One line per difference, for the assertion message. */
const summary = (list: readonly Mismatch[]): string =>
  `${list.length} difference(s):\n` + list.map((m) => `${m.sql}  [${m.path}]\n    PostgreSQL: ${JSON.stringify(m.expected)}\n    iamlink:    ${JSON.stringify(m.actual)}`).join('\n');

const normalise = (v: unknown): unknown => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v);

async function outcome(c: pg.Client, sql: string, mode: Mode): Promise<Outcome> {
  try {
    const r = await c.query(configFor(sql, mode));
    return { fields: r.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })), rows: r.rows.map((row) => row.map(normalise)) };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { error: e.code ?? `no SQLSTATE: ${e.message}` };
  }
}

describe('literal lifting, differential against PostgreSQL', () => {
  let server: TestServer;
  let postgres: PostgresServer;
  /** Mirrored sessions: iamlink[i] and reference[i] always get the same operations, in the same order. */
  let iamlink: pg.Client[] = [];
  let reference: pg.Client[] = [];
  let mismatches: Mismatch[] = [];

  beforeAll(async () => {
    [server, postgres] = await Promise.all([startTestServer(), startPostgres()]);
    iamlink = await Promise.all([0, 1, 2].map(() => server.client()));
    reference = await Promise.all([0, 1, 2].map(() => postgres.client()));
    // The same session settings on both sides (iamlink defaults to UTC; the reference server to the host's zone).
    for (const c of [...iamlink, ...reference]) await c.query("SET TimeZone = 'UTC'");
  });

  afterAll(async () => {
    await Promise.allSettled([server?.stop(), postgres?.stop()]);
  });

  /** Run one query on session `s` of both servers and record any difference. */
  async function both(s: number, sql: string, mode: Mode, path: string): Promise<void> {
    const expected = await outcome(reference[s]!, sql, mode);
    const actual = await outcome(iamlink[s]!, sql, mode);
    if (JSON.stringify(actual) !== JSON.stringify(expected)) mismatches.push({ sql, path, expected, actual });
  }

  it('node-postgres really sends the simple protocol, or the extended one, as this test means it to', () => {
    const prepares = (config: pg.QueryArrayConfig): boolean => (new pg.Query(config) as unknown as { requiresPreparation(): boolean }).requiresPreparation();
    expect(prepares(configFor('SELECT 1', { kind: 'simple' }))).toBe(false);
    expect(prepares(configFor('SELECT 1', { kind: 'extended' }))).toBe(true);
    expect(prepares(configFor('SELECT 1', { kind: 'named', name: 'x' }))).toBe(true);
    // Why queryMode is needed: an empty values array alone keeps the simple protocol.
    expect(prepares({ text: 'SELECT 1', values: [], rowMode: 'array' })).toBe(false);
  });

  it('the corpus has pairs that lift to one text with different parameter types', () => {
    // The server runs in this process and has initialised the gate (do not re-initialise it:
    // that would replace the server's list of allowed functions).
    const lift = (sql: string) => {
      const g = gateStatement(sql);
      return g.kind === 'read' ? g.lifted : undefined;
    };
    const pairs = [
      ['SELECT 5 / 2', 'SELECT 5.0 / 2'],
      ['SELECT 1 + 1', 'SELECT 1 + 1.5'],
      ["SELECT '2' < '10'", 'SELECT 2 < 10'],
      ["SELECT '[10,20]'::jsonb -> 1", "SELECT '[10,20]'::jsonb -> '1'"],
      ['SELECT 1', "SELECT 'a'"],
    ] as const;
    for (const [a, b] of pairs) {
      const [la, lb] = [lift(a), lift(b)];
      expect(la, a).toBeDefined();
      expect(lb, b).toBeDefined();
      expect(la!.text).toBe(lb!.text);
      expect(la!.types).not.toEqual(lb!.types);
      expect(CORPUS.some((e) => e.sql === a) && CORPUS.some((e) => e.sql === b)).toBe(true);
    }
  });

  it('answers every corpus query like PostgreSQL on every path, whatever other sessions ran before', async () => {
    mismatches = [];
    for (const [i, { sql, sibling }] of CORPUS.entries()) {
      const [a, b, c] = [i % 3, (i + 1) % 3, (i + 2) % 3];
      // (1) simple protocol: the lifted path.
      await both(a, sql, { kind: 'simple' }, `simple (session ${a})`);
      // The sibling (same lifted text, other literal types) in a second session...
      await both(b, sibling, { kind: 'simple' }, `simple, as sibling of ${JSON.stringify(sql)} (session ${b})`);
      // (2) ...then the query again: in a third session, in the sibling's session, and in the first one.
      await both(c, sql, { kind: 'simple' }, `simple after the sibling ran in session ${b} (session ${c})`);
      await both(b, sql, { kind: 'simple' }, `simple after the sibling ran in this session (session ${b})`);
      await both(a, sql, { kind: 'simple' }, `simple again (session ${a})`);
      // (3) extended protocol, unnamed statement.
      await both(c, sql, { kind: 'extended' }, `extended (session ${c})`);
      await both(a, sibling, { kind: 'extended' }, `extended, as sibling of ${JSON.stringify(sql)} (session ${a})`);
      // (4) a named prepared statement, executed twice, with the sibling run in between.
      const name = `p_${i}`;
      await both(a, sql, { kind: 'named', name }, `named ${name}, first execution (session ${a})`);
      await both(b, sibling, { kind: 'simple' }, `simple, as sibling of ${JSON.stringify(sql)} (session ${b})`);
      await both(a, sql, { kind: 'named', name }, `named ${name}, second execution (session ${a})`);
      await both(b, sql, { kind: 'simple' }, `simple, last (session ${b})`);
    }
    expect(mismatches, summary(mismatches)).toEqual([]);
  });

  it('answers like PostgreSQL when the sessions run a whole group at once', async () => {
    mismatches = [];
    // Each session runs its share of a group in order while the others run theirs: the order
    // across sessions is up to the server, and no answer may depend on it.
    for (const [round, group] of [...GROUPS, ...GROUPS.map((g) => [...g].reverse())].entries()) {
      const shares = [0, 1, 2].map((s) => group.filter((_, j) => (j + round) % 3 === s));
      await Promise.all(
        shares.map(async (share, s) => {
          for (const sql of share) await both(s, sql, { kind: 'simple' }, `simple, group run concurrently (session ${s}, round ${round})`);
        }),
      );
    }
    expect(mismatches, summary(mismatches)).toEqual([]);
  });

  it('follows each session\'s TimeZone and DateStyle, as PostgreSQL does with the same SET', async () => {
    mismatches = [];
    const sets = async (s: number, setting: string): Promise<void> => {
      await both(s, setting, { kind: 'simple' }, `${setting} (session ${s})`);
    };
    const tzQueries = [
      "SELECT '2024-01-01 00:00:00'::timestamptz::text, 1",
      // The unknown literal becomes a timestamptz parameter: it is read in the session's zone.
      "SELECT '2024-01-01 08:00:00+00'::timestamptz = '2024-01-01 17:00:00', 1",
    ];
    const dateQueries = ["SELECT '01/02/2024'::date::text, 1", "SELECT '2024-01-02'::date = '01/02/2024', 1"];
    const runAll = async (s: number, queries: readonly string[], label: string): Promise<void> => {
      for (const sql of queries) {
        await both(s, sql, { kind: 'simple' }, `simple, ${label} (session ${s})`);
        await both(s, sql, { kind: 'extended' }, `extended, ${label} (session ${s})`);
      }
    };
    await sets(0, "SET TimeZone = 'UTC'");
    await sets(1, "SET TimeZone = 'Asia/Tokyo'");
    for (const round of [1, 2]) {
      await runAll(0, tzQueries, `TimeZone UTC, round ${round}`);
      await runAll(1, tzQueries, `TimeZone Asia/Tokyo, round ${round}`);
    }
    // Swap the zones: each session's answer follows its new setting.
    await sets(0, "SET TimeZone = 'Asia/Tokyo'");
    await sets(1, "SET TimeZone = 'UTC'");
    await runAll(1, tzQueries, 'TimeZone UTC after Asia/Tokyo');
    await runAll(0, tzQueries, 'TimeZone Asia/Tokyo after UTC');
    await sets(0, "SET TimeZone = 'UTC'");

    await sets(1, "SET DateStyle = 'ISO, DMY'");
    for (const round of [1, 2]) {
      await runAll(0, dateQueries, `DateStyle ISO, MDY, round ${round}`);
      await runAll(1, dateQueries, `DateStyle ISO, DMY, round ${round}`);
    }
    await sets(1, "SET DateStyle = 'ISO, MDY'");
    await runAll(1, dateQueries, 'DateStyle back to ISO, MDY');
    expect(mismatches, summary(mismatches)).toEqual([]);
  });
});
