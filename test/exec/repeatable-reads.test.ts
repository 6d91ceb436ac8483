import { beforeAll, describe, expect, it } from 'vitest';
import { gateStatement, initQueryGate } from '../../src/exec/query-gate.js';
import { useTestServer } from '../support/server.js';

describe('which reads repeat (the gate decides what the embedded store may answer from its cache)', () => {
  // Immutable functions as the engine reports them: a few, enough for these statements.
  beforeAll(async () => initQueryGate(['now', 'random', 'lower', 'upper', 'count', 'generate_series', 'clock_timestamp', 'pg_backend_pid'], ['lower', 'count', 'generate_series']));
  const deterministic = (sql: string): boolean | undefined => {
    const g = gateStatement(sql);
    if (g.kind !== 'read') throw new Error(`${sql} is not a read`);
    return g.deterministic;
  };

  it('a lookup over the system views repeats, a fixed timestamp too', () => {
    expect(deterministic("SELECT '2024-01-01 12:00:00+00'::timestamptz::text AS t")).toBe(false);
    expect(deterministic("SELECT '2024-01-01'::text AS t")).toBe(true);
    expect(deterministic("SELECT principal, external_id FROM mz_internal.mz_aws_connections aws JOIN mz_connections c ON aws.id = c.id WHERE c.name = 'x'")).toBe(true);
    expect(deterministic('SELECT lower(name), count(*) FROM mz_connections GROUP BY 1')).toBe(true);
  });

  it.each([
    'SELECT now()',
    'SELECT CURRENT_TIMESTAMP',
    'SELECT current_date',
    "SELECT 'now'::timestamptz",
    "SELECT ' Today '::date",
    'SELECT random()',
    'SELECT clock_timestamp()',
    'SELECT pg_backend_pid()',
    'SELECT * FROM pg_stat_activity',
    'SELECT * FROM pg_catalog.pg_locks',
    'SELECT name FROM mz_connections WHERE name IN (SELECT lower(now()::text))',
    // Found by the independent review: text read as a date or time may mean the current moment.
    "SELECT ('no'||'w')::timestamptz",
    "SELECT ('{now}'::timestamptz[])[1]",
    "SELECT upper('tomorrow 00:00:01')::timestamptz",
    "SELECT 'today 00:00:01'::timestamptz",
    "SELECT CAST(lower('NOW') AS date)",
    "SELECT name FROM mz_connections WHERE 'yesterday' < '2030-01-01'",
  ])('%s does not repeat', (sql) => {
    expect(deterministic(sql)).toBe(false);
  });
});

describe('answers of repeated reads on the embedded store', () => {
  const server = useTestServer();

  it('a repeated lookup sees a connection another session creates at once, and no longer sees it dropped', async () => {
    const a = await server().client();
    const b = await server().client();
    const lookup = "SELECT c.name, aws.external_id FROM mz_internal.mz_aws_connections aws JOIN mz_connections c ON aws.id = c.id WHERE c.name = 'cached_conn'";
    expect((await a.query(lookup)).rows).toEqual([]);
    expect((await a.query(lookup)).rows).toEqual([]);
    await b.query("CREATE CONNECTION cached_conn TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/C')");
    const { rows } = await a.query(lookup);
    expect(rows).toEqual([{ name: 'cached_conn', external_id: expect.stringMatching(/^mz_test-prefix_u\d+$/) }]);
    // The extended protocol, with parameters, after the change too.
    expect((await a.query('SELECT name FROM mz_connections WHERE name = $1', ['cached_conn'])).rows).toEqual([{ name: 'cached_conn' }]);
    await b.query('DROP CONNECTION cached_conn');
    expect((await a.query(lookup)).rows).toEqual([]);
    expect((await a.query('SELECT name FROM mz_connections WHERE name = $1', ['cached_conn'])).rows).toEqual([]);
  });

  it('answers depend on who asks and with which settings', async () => {
    const alice = await server().clientAs('alice');
    const bob = await server().clientAs('bob');
    expect((await alice.query('SELECT current_user AS u')).rows).toEqual([{ u: 'alice' }]);
    expect((await bob.query('SELECT current_user AS u')).rows).toEqual([{ u: 'bob' }]);
    await alice.query("SET TimeZone = 'UTC'");
    const utc = (await alice.query("SELECT '2024-01-01 12:00:00+00'::timestamptz::text AS t")).rows[0].t;
    await alice.query("SET TimeZone = 'Asia/Tokyo'");
    const tokyo = (await alice.query("SELECT '2024-01-01 12:00:00+00'::timestamptz::text AS t")).rows[0].t;
    expect([utc, tokyo]).toEqual(['2024-01-01 12:00:00+00', '2024-01-01 21:00:00+09']);
  });

  it('reads of the clock are run each time', async () => {
    const c = await server().client();
    const first = (await c.query('SELECT clock_timestamp()::text AS t')).rows[0].t;
    await new Promise((r) => setTimeout(r, 5));
    const second = (await c.query('SELECT clock_timestamp()::text AS t')).rows[0].t;
    expect(second).not.toBe(first);
    const n1 = (await c.query('SELECT now()::text AS t')).rows[0].t;
    await new Promise((r) => setTimeout(r, 5));
    expect((await c.query('SELECT now()::text AS t')).rows[0].t).not.toBe(n1);
  });
});
