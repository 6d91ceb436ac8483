/**
 * Client reads, the same on every store: simple and extended protocol, what a client may not
 * read or do (42501, 25006, changing nothing), the result-size cap, psql's catalog queries.
 */
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, errorOf, STORES, useTestServer } from '../support/server.js';

const ROLE_ARN = 'arn:aws:iam::001234567890:role/Customer';
const READ_ONLY_HINT = 'Change the catalog with CREATE, ALTER and DROP of SECRET and CONNECTION.';

describe.each(STORES)('client reads (%s store)', (store) => {
  const server = useTestServer([], store);
  let roleId: string;

  beforeAll(async () => {
    const c = await server().client();
    await c.query("CREATE SECRET cr_secret AS 'x'");
    await c.query(`CREATE CONNECTION cr_role TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
    await c.query("CREATE CONNECTION cr_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET cr_secret)");
    roleId = (await c.query("SELECT id FROM mz_connections WHERE name = 'cr_role'")).rows[0].id;
  });

  it('answers a simple-protocol query', async () => {
    const c = await server().client();
    const r = await c.query("SELECT name, type FROM mz_connections WHERE name LIKE 'cr\\_%' ORDER BY name; SELECT 1 AS one");
    const results = r as unknown as { rows: unknown[]; command: string }[];
    expect(results.map((x) => [x.command, x.rows])).toEqual([
      ['SELECT', [{ name: 'cr_keys', type: 'aws' }, { name: 'cr_role', type: 'aws' }]],
      ['SELECT', [{ one: 1 }]],
    ]);
  });

  it('answers extended-protocol queries with parameters, as arrays, and in binary', async () => {
    const c = await server().client();
    const byName = 'SELECT c.id, a.external_id FROM mz_connections c JOIN mz_internal.mz_aws_connections a USING (id) WHERE c.name = $1';
    expect((await c.query(byName, ['cr_role'])).rows).toEqual([{ id: roleId, external_id: `mz_test-prefix_${roleId}` }]);
    expect((await c.query(byName, ['cr_none'])).rows).toEqual([]);
    // A named statement, prepared once and run with other values.
    const named = { name: 'cr_by_name', text: 'SELECT name FROM mz_objects WHERE name = $1 AND type = $2' };
    expect((await c.query({ ...named, values: ['cr_secret', 'secret'] })).rows).toEqual([{ name: 'cr_secret' }]);
    expect((await c.query({ ...named, values: ['cr_keys', 'connection'] })).rows).toEqual([{ name: 'cr_keys' }]);
    expect((await c.query({ ...named, values: ['cr_keys', 'secret'] })).rows).toEqual([]);

    const arrays = await c.query({ text: "SELECT name, type FROM mz_connections WHERE name LIKE $1 ORDER BY name", values: ['cr\\_%'], rowMode: 'array' });
    expect(arrays.rows).toEqual([
      ['cr_keys', 'aws'],
      ['cr_role', 'aws'],
    ]);
    expect(arrays.fields.map((f) => f.name)).toEqual(['name', 'type']);

    // node-postgres asks for binary results when told to (its types do not know the option).
    const binaryQuery: pg.QueryConfig & { binary: boolean } = {
      name: 'cr_binary',
      text: 'SELECT 42::int4 AS n, $1::text AS t, count(*)::int8 AS k FROM mz_connections WHERE name = $1',
      values: ['cr_role'],
      binary: true,
    };
    const binary = await c.query(binaryQuery);
    expect(binary.fields.map((f) => [f.name, f.format])).toEqual([
      ['n', 'binary'],
      ['t', 'binary'],
      ['k', 'binary'],
    ]);
    expect(binary.rows).toEqual([{ n: 42, t: 'cr_role', k: '1' }]);
  });

  it('refuses reads of iamlink_internal with 42501, in both protocols', async () => {
    const c = await server().client();
    for (const table of ['config', 'roles', 'items', 'secrets', 'dependencies', 'issued_ids', 'comments']) {
      const sql = `SELECT * FROM iamlink_internal.${table}`;
      expect(await errorOf(c.query(sql)), sql).toMatchObject({ code: '42501', message: 'permission denied for schema iamlink_internal' });
      expect(await errorOf(c.query(`${sql} WHERE $1::int = 1`, [1])), `${sql} (extended)`).toMatchObject({ code: '42501' });
    }
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('refuses writes with 25006 and set_config with 42501, changing nothing', async () => {
    const c = await server().client();
    const before = await catalogSnapshot(c);
    const writes: [string, string][] = [
      ['CREATE TABLE cr_t (a int)', 'CREATE TABLE'],
      ["INSERT INTO mz_catalog.mz_secrets (id, name) VALUES ('u999', 'cr_fake')", 'INSERT'],
      ["UPDATE mz_catalog.mz_connections SET name = 'cr_x'", 'UPDATE'],
      ['DELETE FROM mz_catalog.mz_secrets', 'DELETE'],
    ];
    for (const [sql, verb] of writes) {
      expect(await errorOf(c.query(sql)), sql).toMatchObject({
        code: '25006',
        message: `cannot execute ${verb}: the catalog is read-only through SQL queries`,
        hint: READ_ONLY_HINT,
      });
    }
    expect(await errorOf(c.query('CREATE TABLE cr_t2 (a int)', []))).toMatchObject({ code: '25006' });
    for (const sql of ["SELECT set_config('statement_timeout', '0', false)", "SELECT set_config('search_path', 'iamlink_internal', false)"]) {
      expect(await errorOf(c.query(sql)), sql).toMatchObject({ code: '42501', message: 'permission denied for function set_config' });
    }
    expect(await errorOf(c.query('SELECT set_config($1, $2, false)', ['search_path', 'iamlink_internal']))).toMatchObject({ code: '42501' });
    expect(await catalogSnapshot(c)).toEqual(before);
    expect((await c.query("SELECT count(*)::int AS n FROM pg_catalog.pg_class WHERE relname LIKE 'cr\\_t%'")).rows).toEqual([{ n: 0 }]);
    expect((await c.query('SHOW search_path')).rows).toEqual([{ search_path: 'public' }]);
  });

  it("answers psql-style catalog queries", async () => {
    const c = await server().client();
    expect((await c.query('SELECT n.nspname FROM pg_catalog.pg_namespace n ORDER BY 1')).rows.map((r: { nspname: string }) => r.nspname)).toEqual(
      expect.arrayContaining(['information_schema', 'mz_catalog', 'mz_internal', 'pg_catalog', 'public']),
    );
    // psql's \d mz_internal.mz_aws_connections, reduced to what it prints.
    const columns = await c.query(
      "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'mz_internal' AND c.relname = 'mz_aws_connections' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
    );
    expect(columns.rows.map((r: { attname: string; type: string }) => `${r.attname} ${r.type}`)).toEqual([
      'id text', 'endpoint text', 'region text', 'access_key_id text', 'access_key_id_secret_id text', 'secret_access_key_secret_id text',
      'session_token text', 'session_token_secret_id text', 'assume_role_arn text', 'assume_role_session_name text', 'principal text',
      'external_id text', 'example_trust_policy jsonb',
    ]);
  });

  // The engine's database answers these itself (docs/compat.md, "Database name"): PGlite's is named
  // materialize; on the shared store it is the catalog database's own name (docs/scale-out.md
  // recommends naming it materialize; the tests' databases are iamlink_t_*).
  const databaseName = async (): Promise<string> =>
    store === 'pglite' ? 'materialize' : new URL(server().config.catalogUrl!).pathname.slice(1);

  it("says the database's name alike in current_database(), current_catalog and information_schema", async () => {
    const c = await server().client();
    const db = await databaseName();
    const { rows } = await c.query('SELECT current_database() AS db, current_catalog AS catalog, (SELECT catalog_name FROM information_schema.information_schema_catalog_name) AS info');
    expect(rows).toEqual([{ db, catalog: db, info: db }]);
  });

  it("lists the catalog's database as psql's \\l does", async () => {
    const c = await server().client();
    const names = (await c.query('SELECT datname FROM pg_catalog.pg_database ORDER BY 1')).rows.map((r: { datname: string }) => r.datname);
    expect(names).toContain(await databaseName());
    // The embedded engine has no other database than PostgreSQL's templates; a shared server's
    // pg_database is the whole server's (docs/scale-out.md: give iamlink a server of its own).
    if (store === 'pglite') expect(names.filter((n) => !['materialize', 'template0', 'template1'].includes(n))).toEqual([]);
  });

  describe('under --max-result-bytes 65536', () => {
    const capped = useTestServer(['--max-result-bytes', '65536'], store);

    it('refuses a larger answer with 54000, and the session goes on', async () => {
      const c = await capped().client();
      const big = "SELECT repeat('x', 1000) AS filler FROM generate_series(1, 200)";
      expect(await errorOf(c.query(big))).toMatchObject({
        code: '54000',
        message: 'result exceeds the maximum size of 65536 bytes',
        hint: 'Select fewer rows or columns (WHERE, LIMIT), or raise --max-result-bytes.',
      });
      expect(await errorOf(c.query({ text: big, rowMode: 'array' }))).toMatchObject({ code: '54000' });
      expect(await errorOf(c.query("SELECT repeat($1, 1000) AS filler FROM generate_series(1, 200)", ['y']))).toMatchObject({ code: '54000' });
      // The session is usable, and an answer under the cap is whole.
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      const { rows } = await c.query("SELECT repeat('x', 1000) AS filler FROM generate_series(1, 40)");
      expect(rows).toHaveLength(40);
      expect(rows.every((r: { filler: string }) => r.filler.length === 1000)).toBe(true);
      await c.query("CREATE SECRET cr_after_cap AS 'x'");
      expect((await c.query("SELECT name FROM mz_secrets WHERE name = 'cr_after_cap'")).rows).toEqual([{ name: 'cr_after_cap' }]);
    });
  });
});
