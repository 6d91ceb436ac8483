import { describe, expect, it } from 'vitest';
import { exampleTrustPolicy } from '../../src/aws/trust-policy.js';
import { catalogSnapshot, errorOf, useTestServer } from '../support/server.js';

const LOOKUP = `SELECT principal, external_id, example_trust_policy
  FROM mz_internal.mz_aws_connections aws JOIN mz_connections c ON aws.id = c.id
 WHERE c.name = $1`;

describe('node-postgres against iamlink', () => {
  const server = useTestServer();

  it('runs the README walkthrough with parameterized queries', async () => {
    const c = await server().client();
    await c.query("CREATE SECRET aws_secret_key AS 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'");
    await c.query("CREATE CONNECTION aws_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET aws_secret_key, REGION = 'us-east-1')");
    const created = await c.query("CREATE CONNECTION aws_conn TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/Customer')");
    expect(created.command).toBe('CREATE');

    const { rows } = await c.query(LOOKUP, ['aws_conn']);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    const ids = await c.query<{ id: string }>('SELECT id FROM mz_connections WHERE name = $1', ['aws_conn']);
    const id = ids.rows[0]!.id;
    expect(row.principal).toBe('arn:aws:iam::123456789012:role/iamlink-jump');
    expect(row.external_id).toBe(`mz_test-prefix_${id}`);
    expect(row.example_trust_policy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::123456789012:role/iamlink-jump' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:ExternalId': `mz_test-prefix_${id}` } },
        },
      ],
    });
    // The validator's hint renders the same document as the view.
    expect(row.example_trust_policy).toEqual(exampleTrustPolicy(row.principal, row.external_id));
    expect((await c.query(LOOKUP, ['no_such_connection'])).rows).toEqual([]);

    // Materialize's columns and text shapes (docs/compat.md).
    expect((await c.query('SHOW CONNECTIONS')).rows).toEqual([
      { name: 'aws_conn', type: 'aws', comment: '' },
      { name: 'aws_keys', type: 'aws', comment: '' },
    ]);
    expect((await c.query('SHOW SECRETS')).rows).toEqual([{ name: 'aws_secret_key', comment: '' }]);
    const show = await c.query('SHOW CREATE CONNECTION aws_keys');
    expect(show.rows[0].create_sql).toBe(
      `CREATE CONNECTION materialize.public.aws_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', SECRET ACCESS KEY = SECRET materialize.public.aws_secret_key);`,
    );
    // As in Materialize, AWS options are not secret (the secret key is a SECRET reference).
    const redacted = await c.query('SHOW REDACTED CREATE CONNECTION aws_keys');
    expect(redacted.rows[0].create_sql).toBe(show.rows[0].create_sql);

    await c.query("ALTER CONNECTION aws_conn SET (REGION = 'eu-west-1')");
    expect((await c.query('SELECT region FROM mz_internal.mz_aws_connections WHERE id = $1', [id])).rows).toEqual([{ region: 'eu-west-1' }]);

    const refused = await errorOf(c.query('DROP SECRET aws_secret_key'));
    expect(refused).toMatchObject({ code: '2BP01', message: 'cannot drop secret "aws_secret_key": still depended upon by connection "aws_keys"' });
    await c.query('DROP CONNECTION aws_keys');
    await c.query('DROP SECRET aws_secret_key');
    expect((await c.query('SHOW SECRETS')).rows).toEqual([]);
    expect((await c.query('SELECT name FROM mz_connections')).rows).toEqual([{ name: 'aws_conn' }]);
  });

  it('keeps ids monotonic and never reused', async () => {
    const c = await server().client();
    await c.query("CREATE SECRET ids_a AS 'x'");
    const a = (await c.query("SELECT id FROM mz_secrets WHERE name = 'ids_a'")).rows[0].id as string;
    await c.query('DROP SECRET ids_a');
    await c.query("CREATE SECRET ids_a AS 'x'");
    const b = (await c.query("SELECT id FROM mz_secrets WHERE name = 'ids_a'")).rows[0].id as string;
    expect(Number(b.slice(1))).toBeGreaterThan(Number(a.slice(1)));
    await c.query('DROP SECRET ids_a');
  });

  it('supports named prepared statements, reuse and statement descriptions', async () => {
    const c = await server().client();
    const q = { name: 'by-name', text: 'SELECT name, type FROM mz_connections WHERE name = $1', values: ['aws_conn'] };
    expect((await c.query(q)).rows).toEqual([{ name: 'aws_conn', type: 'aws' }]);
    expect((await c.query({ ...q, values: ['nothing'] })).rows).toEqual([]);
    const typed = await c.query('SELECT $1::int + 1 AS n, $2::text AS t', [41, 'x']);
    expect(typed.rows).toEqual([{ n: 42, t: 'x' }]);
    expect(typed.fields.map((f) => f.dataTypeID)).toEqual([23, 25]);
  });

  it('skips to Sync after an error in the extended protocol and carries on', async () => {
    const c = await server().client();
    const err = await errorOf(c.query('SELECT no_such_column FROM mz_connections WHERE name = $1', ['x']));
    expect(err.code).toBe('42703');
    expect((await c.query('SELECT $1::text AS ok', ['yes'])).rows).toEqual([{ ok: 'yes' }]);
  });

  it('tracks transaction status: failed blocks refuse statements until ROLLBACK', async () => {
    const c = await server().client();
    await c.query('BEGIN');
    await errorOf(c.query('SELECT 1/0'));
    const aborted = await errorOf(c.query('SELECT 1'));
    expect(aborted.code).toBe('25P02');
    await c.query('ROLLBACK');
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('keeps catalog changes inside a transaction block until COMMIT, and drops them at ROLLBACK', async () => {
    const c = await server().client();
    const other = await server().client();
    const before = await catalogSnapshot(other);
    await c.query('BEGIN');
    await c.query("CREATE SECRET in_tx AS 'x'");
    expect((await c.query("SELECT name FROM mz_secrets WHERE name = 'in_tx'")).rows).toEqual([{ name: 'in_tx' }]);
    expect(await catalogSnapshot(other)).toEqual(before);
    await c.query('ROLLBACK');
    expect(await catalogSnapshot(other)).toEqual(before);
    await c.query('BEGIN');
    await c.query("CREATE SECRET in_tx AS 'x'");
    await c.query('COMMIT');
    expect((await other.query("SELECT name FROM mz_secrets WHERE name = 'in_tx'")).rows).toEqual([{ name: 'in_tx' }]);
    await c.query('DROP SECRET in_tx');
  });

  it('refuses writes, settings changes and file access through queries, changing nothing', async () => {
    const c = await server().client();
    const before = await catalogSnapshot(c);
    const refused: [string, string][] = [
      ["INSERT INTO mz_catalog.mz_connections (id) VALUES ('u999')", '25006'],
      ["UPDATE mz_internal.mz_aws_connections SET region = 'x'", '25006'],
      ['DELETE FROM mz_catalog.mz_secrets', '25006'],
      ['CREATE TABLE t (x int)', '25006'],
      ["WITH gone AS (DELETE FROM mz_catalog.mz_secrets RETURNING *) SELECT * FROM gone", '25006'],
      ["SELECT set_config('search_path', 'x', false)", '42501'],
      ["SELECT pg_read_file('/etc/passwd')", '42501'],
      ['SELECT * FROM iamlink_internal.secrets', '42501'],
      // A server file is refused like PostgreSQL refuses it to non-superusers; COPY ... TO STDOUT is a read.
      ["COPY (SELECT 1) TO '/tmp/x'", '42501'],
      ["COPY mz_catalog.mz_secrets FROM STDIN", '25006'],
      ["DO $$ BEGIN PERFORM 1; END $$", '42501'],
    ];
    for (const [sql, code] of refused) expect((await errorOf(c.query(sql))).code, sql).toBe(code);
    expect(await catalogSnapshot(c)).toEqual(before);
  });

  it('logs one structured line per statement with session, user, redacted SQL, outcome and duration', async () => {
    const c = await server().clientAs('logger');
    await c.query("CREATE SECRET logged AS 'do-not-log-me'");
    await errorOf(c.query("CREATE SECRET logged AS 'do-not-log-me-either'"));
    const lines = (await server().logText())
      .split('\n')
      .filter((l) => l.includes('"user":"logger"') && l.includes('"msg":"statement"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ sql: "CREATE SECRET logged AS '<REDACTED>'", outcome: 'ok' });
    expect(lines[1]).toMatchObject({ sql: "CREATE SECRET logged AS '<REDACTED>'", outcome: '42710' });
    for (const line of lines) {
      expect(typeof line.session).toBe('number');
      expect(typeof line.durationMs).toBe('number');
    }
    expect(await server().logText()).not.toContain('do-not-log-me');
    await c.query('DROP SECRET logged');
  });

  it('answers several statements in one simple query string', async () => {
    const c = await server().client();
    const results = (await c.query("CREATE SECRET multi_a AS 'a'; CREATE SECRET multi_b AS 'b'; SELECT count(*)::int AS n FROM mz_secrets WHERE name LIKE 'multi_%'")) as unknown as { rows: unknown[] }[];
    expect(results[2]!.rows).toEqual([{ n: 2 }]);
    await c.query('DROP SECRET multi_a, multi_b');
  });
});

describe('sessions sharing one engine', () => {
  const server = useTestServer();

  it('an idle open transaction does not block another client', async () => {
    const idle = await server().client();
    const other = await server().client();
    await idle.query('BEGIN');
    await idle.query('SELECT count(*) FROM mz_connections');
    await other.query("CREATE SECRET while_idle AS 'x'");
    expect((await other.query("SELECT name FROM mz_secrets WHERE name = 'while_idle'")).rows).toHaveLength(1);
    expect((await idle.query("SELECT name FROM mz_secrets WHERE name = 'while_idle'")).rows).toHaveLength(1);
    await idle.query('COMMIT');
  });

  it('SET in one client is not seen by another', async () => {
    const a = await server().client();
    const b = await server().client();
    await a.query('SET search_path = mz_internal');
    await a.query("SET application_name = 'client-a'");
    expect((await a.query('SHOW search_path')).rows).toEqual([{ search_path: 'mz_internal' }]);
    expect((await b.query('SHOW search_path')).rows).toEqual([{ search_path: 'public' }]);
    expect((await a.query("SELECT current_setting('application_name') AS app")).rows).toEqual([{ app: 'client-a' }]);
    expect((await b.query("SELECT current_setting('application_name') AS app")).rows).toEqual([{ app: '' }]);
  });

  it('current_user and session_user report the logged-in user', async () => {
    const alice = await server().clientAs('alice');
    const mz = await server().client();
    expect((await alice.query('SELECT current_user AS c, session_user AS s')).rows).toEqual([{ c: 'alice', s: 'alice' }]);
    expect((await mz.query('SELECT current_user AS c, session_user AS s')).rows).toEqual([{ c: 'materialize', s: 'materialize' }]);
  });

  it('refuses reserved user names and unknown databases', async () => {
    await expect(server().client({ user: 'postgres' })).rejects.toThrow('role "postgres" is reserved');
    await expect(server().client({ database: 'other' })).rejects.toThrow('database "other" does not exist');
  });
});
