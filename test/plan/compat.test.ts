/**
 * COMMENT ON, SHOW CONNECTIONS / SECRETS, SHOW [REDACTED] CREATE CONNECTION, the catalog's
 * create_sql and mz_objects / mz_columns, in Materialize's shapes (docs/compat.md), through a
 * real server and node-postgres.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteStore } from '../../src/catalog/pglite-store.js';
import { startPostgres } from '../support/postgres.js';
import { catalogSnapshot, errorOf, freshDataDir, startTestServer, type TestServer } from '../support/server.js';

const ARN = 'arn:aws:iam::001234567890:role/Customer';
const MIGRATIONS = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** The catalog as a user sees it, comments included. */
async function snapshot(c: pg.Client): Promise<unknown> {
  return { catalog: await catalogSnapshot(c), comments: (await c.query('SELECT * FROM mz_internal.mz_comments ORDER BY id')).rows };
}

async function idOf(c: pg.Client, name: string): Promise<string> {
  const { rows } = await c.query('SELECT id FROM mz_objects WHERE name = $1', [name]);
  return rows[0].id as string;
}

describe('COMMENT ON CONNECTION | SECRET', () => {
  let server: TestServer;
  let c: pg.Client;
  beforeAll(async () => {
    server = await startTestServer();
    c = await server.client();
    await c.query("CREATE SECRET s AS 'secret-value'");
    await c.query(`CREATE CONNECTION t TO AWS (ASSUME ROLE ARN = '${ARN}')`);
  });
  afterAll(async () => server.stop());

  it('sets, replaces and removes a comment, shown in mz_internal.mz_comments with Materialize’s columns', async () => {
    const res = await c.query("COMMENT ON CONNECTION t IS 'the customer''s role'");
    expect(res.command).toBe('COMMENT');
    await c.query("COMMENT ON SECRET materialize.public.s IS 'rotated monthly'");
    const t = await idOf(c, 't');
    const s = await idOf(c, 's');
    const comments = async (): Promise<unknown[]> => (await c.query('SELECT id, object_type, object_sub_id, comment FROM mz_internal.mz_comments ORDER BY object_type')).rows;
    expect(await comments()).toEqual([
      { id: t, object_type: 'connection', object_sub_id: null, comment: "the customer's role" },
      { id: s, object_type: 'secret', object_sub_id: null, comment: 'rotated monthly' },
    ]);
    await c.query("COMMENT ON CONNECTION t IS 'replaced'");
    await c.query('COMMENT ON SECRET s IS NULL');
    expect(await comments()).toEqual([{ id: t, object_type: 'connection', object_sub_id: null, comment: 'replaced' }]);
    // Setting NULL where there is none is no error, as in Materialize.
    await c.query('COMMENT ON SECRET s IS NULL');
  });

  it('goes when its object is dropped, and stays through a rename', async () => {
    await c.query(`CREATE CONNECTION doomed TO AWS (ASSUME ROLE ARN = '${ARN}')`);
    await c.query("COMMENT ON CONNECTION doomed IS 'short-lived'");
    await c.query('ALTER CONNECTION doomed RENAME TO renamed_doomed');
    expect((await c.query("SELECT comment FROM mz_internal.mz_show_connections WHERE name = 'renamed_doomed'")).rows).toEqual([{ comment: 'short-lived' }]);
    const id = await idOf(c, 'renamed_doomed');
    await c.query('DROP CONNECTION renamed_doomed');
    expect((await c.query('SELECT * FROM mz_internal.mz_comments WHERE id = $1', [id])).rows).toEqual([]);
  });

  const FAILURES: [string, string, string][] = [
    ["COMMENT ON CONNECTION missing IS 'x'", '42704', "unknown catalog item 'missing'"],
    ["COMMENT ON SECRET t IS 'x'", '42809', 'materialize.public.t is not a secret'],
    ["COMMENT ON CONNECTION s IS 'x'", '42809', 'materialize.public.s is not a connection'],
    ["COMMENT ON CONNECTION mz_catalog.mz_connections IS 'x'", '42501', "system schema 'mz_catalog' cannot be modified"],
    ["COMMENT ON SECRET materialize.mz_internal.x IS NULL", '42501', "system schema 'mz_internal' cannot be modified"],
    ["COMMENT ON CONNECTION nope.t IS 'x'", '3F000', "unknown schema 'nope'"],
    ["COMMENT ON CONNECTION other.public.t IS 'x'", '3D000', "unknown database 'other'"],
    ['COMMENT ON CONNECTION t IS 42', '42601', 'Expected a string literal or NULL, found number "42"'],
    ["COMMENT ON TABLE mz_catalog.mz_connections IS 'x'", '25006', 'cannot execute COMMENT: the catalog is read-only through SQL queries'],
  ];

  it.each(FAILURES)('%s → %s %s, and changes nothing', async (sql, code, message) => {
    const before = await snapshot(c);
    expect(await errorOf(c.query(sql))).toMatchObject({ code, message });
    expect(await snapshot(c)).toEqual(before);
  });

  it('points at the name it cannot resolve', async () => {
    const sql = "COMMENT ON CONNECTION missing IS 'x'";
    expect(Number((await errorOf(c.query(sql))).position)).toBe(sql.indexOf('missing') + 1);
  });

  it('is transactional like other catalog changes: seen in its transaction, gone on ROLLBACK, kept on COMMIT', async () => {
    const before = await snapshot(c);
    await c.query('BEGIN');
    await c.query(`CREATE CONNECTION in_tx TO AWS (ASSUME ROLE ARN = '${ARN}')`);
    await c.query("COMMENT ON CONNECTION in_tx IS 'pending'");
    expect((await c.query("SELECT comment FROM mz_internal.mz_show_connections WHERE name = 'in_tx'")).rows).toEqual([{ comment: 'pending' }]);
    await c.query('ROLLBACK');
    expect(await snapshot(c)).toEqual(before);

    await c.query('BEGIN');
    await c.query("COMMENT ON SECRET s IS 'committed'");
    await c.query('COMMIT');
    expect((await c.query("SELECT comment FROM mz_internal.mz_show_secrets WHERE name = 's'")).rows).toEqual([{ comment: 'committed' }]);
    await c.query('COMMENT ON SECRET s IS NULL');
  });

  it('in a transaction, fails at the statement, and the transaction then holds nothing', async () => {
    const before = await snapshot(c);
    await c.query('BEGIN');
    expect(await errorOf(c.query("COMMENT ON CONNECTION missing IS 'x'"))).toMatchObject({ code: '42704' });
    await c.query('ROLLBACK');
    expect(await snapshot(c)).toEqual(before);
  });

  it('is never logged with its text', async () => {
    await c.query("COMMENT ON CONNECTION t IS 'comment-canary-31'");
    await new Promise((r) => setTimeout(r, 50));
    const log = await server.logText();
    expect(log).toContain("COMMENT ON CONNECTION t IS '<REDACTED>'");
    expect(log).not.toContain('comment-canary-31');
  });
});

describe('SHOW CONNECTIONS and SHOW SECRETS', () => {
  let server: TestServer;
  let c: pg.Client;
  beforeAll(async () => {
    server = await startTestServer();
    c = await server.client();
    await c.query("CREATE SECRET b_secret AS 'x'");
    await c.query("CREATE SECRET a_secret AS 'y'");
    await c.query("CREATE CONNECTION keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET a_secret)");
    await c.query(`CREATE CONNECTION assume TO AWS (ASSUME ROLE ARN = '${ARN}')`);
    await c.query("COMMENT ON CONNECTION keys IS 'long-lived keys'");
    await c.query("COMMENT ON SECRET b_secret IS 'b'");
  });
  afterAll(async () => server.stop());

  it("answer Materialize's columns, in order, with '' for no comment", async () => {
    const conns = await c.query('SHOW CONNECTIONS');
    expect(conns.fields.map((f) => f.name)).toEqual(['name', 'type', 'comment']);
    expect(conns.rows).toEqual([
      { name: 'assume', type: 'aws', comment: '' },
      { name: 'keys', type: 'aws', comment: 'long-lived keys' },
    ]);
    const secrets = await c.query('SHOW SECRETS');
    expect(secrets.fields.map((f) => f.name)).toEqual(['name', 'comment']);
    expect(secrets.rows).toEqual([
      { name: 'a_secret', comment: '' },
      { name: 'b_secret', comment: 'b' },
    ]);
  });

  it('filter with LIKE and with WHERE over their own columns', async () => {
    expect((await c.query("SHOW CONNECTIONS LIKE 'k%'")).rows).toEqual([{ name: 'keys', type: 'aws', comment: 'long-lived keys' }]);
    expect((await c.query("SHOW SECRETS FROM public LIKE '%secret'")).rows.map((r) => r.name)).toEqual(['a_secret', 'b_secret']);
    expect((await c.query("SHOW CONNECTIONS WHERE comment <> '' OR name = 'nothing'")).rows.map((r) => r.name)).toEqual(['keys']);
    expect((await c.query("SHOW SECRETS WHERE name IN (SELECT name FROM mz_secrets WHERE name LIKE 'b%')")).rows.map((r) => r.name)).toEqual(['b_secret']);
    expect((await c.query('SHOW SECRETS WHERE upper(name) = \'A_SECRET\'')).rows.map((r) => r.name)).toEqual(['a_secret']);
    expect((await c.query('SHOW CONNECTIONS FROM mz_catalog')).rows).toEqual([]);
  });

  it('describe their columns to the extended protocol, filter included', async () => {
    const res = await c.query({ name: 'show_where', text: "SHOW CONNECTIONS WHERE type = 'aws' AND name LIKE 'a%'" });
    expect(res.fields.map((f) => f.name)).toEqual(['name', 'type', 'comment']);
    expect(res.rows).toEqual([{ name: 'assume', type: 'aws', comment: '' }]);
  });

  it('pass a WHERE expression through the read-only gate, with errors pointing into it', async () => {
    const sleep = 'SHOW SECRETS WHERE pg_sleep(1) IS NULL';
    const refused = await errorOf(c.query(sleep));
    expect(refused).toMatchObject({ code: '42501', message: 'permission denied for function pg_sleep' });
    expect(Number(refused.position)).toBe(sleep.indexOf('pg_sleep') + 1);
    const config = await errorOf(c.query("SHOW CONNECTIONS WHERE set_config('search_path', 'x', false) = ''"));
    expect(config).toMatchObject({ code: '42501', message: 'permission denied for function set_config' });
    const syntax = 'SHOW SECRETS WHERE name = = 1';
    const bad = await errorOf(c.query(syntax));
    expect(bad.code).toBe('42601');
    expect(Number(bad.position)).toBe(syntax.lastIndexOf('=') + 1);
    expect((await errorOf(c.query('SHOW SECRETS WHERE name IN (SELECT id FROM iamlink_internal.secrets)'))).code).toBe('42501');
    expect(await errorOf(c.query('SHOW SECRETS WHERE true) UNION (SELECT 1'))).toMatchObject({ code: '42601', message: 'unbalanced ")" in WHERE expression' });
    expect((await errorOf(c.query('SHOW SECRETS WHERE no_such_column'))).code).toBe('42703');
  });
});

describe("SHOW CREATE CONNECTION and mz_connections' create_sql", () => {
  let server: TestServer;
  let c: pg.Client;
  beforeAll(async () => {
    server = await startTestServer();
    c = await server.client();
    await c.query("CREATE SECRET aws_secret_key AS 'k'");
    await c.query("CREATE SECRET \"Session Secret\" AS 't'");
    await c.query(
      "CREATE CONNECTION aws_keys TO AWS (REGION = 'us-east-1', ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET aws_secret_key, SESSION TOKEN = 'inline-token')",
    );
    await c.query(`CREATE CONNECTION "Role Conn" TO AWS (ASSUME ROLE ARN = '${ARN}', ASSUME ROLE SESSION NAME = 'sess')`);
    await c.query("CREATE CONNECTION tok TO AWS (ACCESS KEY ID = SECRET aws_secret_key, SECRET ACCESS KEY = SECRET aws_secret_key, SESSION TOKEN = SECRET \"Session Secret\")");
  });
  afterAll(async () => server.stop());

  it("SHOW CREATE answers Materialize's simple format: names, SECRET name references, a semicolon", async () => {
    const res = await c.query('SHOW CREATE CONNECTION aws_keys');
    expect(res.fields.map((f) => f.name)).toEqual(['name', 'create_sql']);
    expect(res.rows).toEqual([
      {
        name: 'materialize.public.aws_keys',
        create_sql:
          "CREATE CONNECTION materialize.public.aws_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', " +
          "SECRET ACCESS KEY = SECRET materialize.public.aws_secret_key, SESSION TOKEN = 'inline-token');",
      },
    ]);
    expect((await c.query('SHOW CREATE CONNECTION "Role Conn"')).rows).toEqual([
      {
        name: 'materialize.public.Role Conn',
        create_sql: `CREATE CONNECTION materialize.public."Role Conn" TO AWS (ASSUME ROLE ARN = '${ARN}', ASSUME ROLE SESSION NAME = 'sess');`,
      },
    ]);
    expect((await c.query('SHOW CREATE CONNECTION tok')).rows[0].create_sql).toBe(
      'CREATE CONNECTION materialize.public.tok TO AWS (ACCESS KEY ID = SECRET materialize.public.aws_secret_key, ' +
        'SECRET ACCESS KEY = SECRET materialize.public.aws_secret_key, SESSION TOKEN = SECRET materialize.public."Session Secret");',
    );
  });

  it('SHOW REDACTED CREATE keeps the option values Materialize keeps, and hides an in-line session token', async () => {
    expect((await c.query('SHOW REDACTED CREATE CONNECTION aws_keys')).rows[0].create_sql).toBe(
      "CREATE CONNECTION materialize.public.aws_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', " +
        "SECRET ACCESS KEY = SECRET materialize.public.aws_secret_key, SESSION TOKEN = '<REDACTED>');",
    );
    expect((await c.query('SHOW REDACTED CREATE CONNECTION "Role Conn"')).rows[0].create_sql).toContain(`ASSUME ROLE ARN = '${ARN}'`);
  });

  it('mz_connections.create_sql is the stable format with [id AS name] secret references; redacted_create_sql the simple one', async () => {
    const secret = await idOf(c, 'aws_secret_key');
    const { rows } = await c.query("SELECT create_sql, redacted_create_sql FROM mz_connections WHERE name = 'aws_keys'");
    expect(rows).toEqual([
      {
        create_sql:
          `CREATE CONNECTION "materialize"."public"."aws_keys" TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', ` +
          `SECRET ACCESS KEY = SECRET [${secret} AS "materialize"."public"."aws_secret_key"], SESSION TOKEN = 'inline-token')`,
        redacted_create_sql:
          `CREATE CONNECTION materialize.public.aws_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', ` +
          `SECRET ACCESS KEY = SECRET [${secret} AS materialize.public.aws_secret_key], SESSION TOKEN = '<REDACTED>')`,
      },
    ]);
  });

  it('follows a secret rename in both SHOW CREATE and create_sql', async () => {
    await c.query('ALTER SECRET aws_secret_key RENAME TO "Renamed Key"');
    const secret = await idOf(c, 'Renamed Key');
    expect((await c.query('SHOW CREATE CONNECTION aws_keys')).rows[0].create_sql).toContain('SECRET ACCESS KEY = SECRET materialize.public."Renamed Key",');
    expect((await c.query("SELECT create_sql FROM mz_connections WHERE name = 'aws_keys'")).rows[0].create_sql).toContain(
      `SECRET ACCESS KEY = SECRET [${secret} AS "materialize"."public"."Renamed Key"]`,
    );
    await c.query('ALTER SECRET "Renamed Key" RENAME TO aws_secret_key');
  });
});

describe('mz_catalog.mz_objects and mz_catalog.mz_columns', () => {
  let server: TestServer;
  let c: pg.Client;
  beforeAll(async () => {
    server = await startTestServer();
    c = await server.client();
    await c.query("CREATE SECRET obj_secret AS 'x'");
    await c.query(`CREATE CONNECTION obj_conn TO AWS (ASSUME ROLE ARN = '${ARN}')`);
  });
  afterAll(async () => server.stop());

  it("have Materialize's columns", async () => {
    const columns = async (table: string): Promise<string[]> => (await c.query(`SELECT * FROM ${table} LIMIT 0`)).fields.map((f) => f.name);
    expect(await columns('mz_catalog.mz_objects')).toEqual(['id', 'oid', 'schema_id', 'name', 'type', 'owner_id', 'cluster_id', 'privileges']);
    expect(await columns('mz_catalog.mz_columns')).toEqual(['id', 'name', 'position', 'nullable', 'type', 'default', 'type_oid', 'type_mod']);
    expect(await columns('mz_internal.mz_comments')).toEqual(['id', 'object_type', 'object_sub_id', 'comment']);
    expect(await columns('mz_catalog.mz_roles')).toEqual(['id', 'oid', 'name', 'inherit', 'rolcanlogin', 'rolsuper']);
  });

  it('list the user’s connections and secrets with their ids, owners and privileges', async () => {
    const { rows } = await c.query("SELECT o.id, o.oid, o.schema_id, o.name, o.type, o.cluster_id, o.privileges, r.name AS owner FROM mz_objects o JOIN mz_roles r ON r.id = o.owner_id WHERE o.schema_id = 'u3' ORDER BY o.name");
    const conn = (await c.query("SELECT id, oid, privileges FROM mz_connections WHERE name = 'obj_conn'")).rows[0];
    const secret = (await c.query("SELECT id, oid, privileges FROM mz_secrets WHERE name = 'obj_secret'")).rows[0];
    expect(rows).toEqual([
      { ...conn, schema_id: 'u3', name: 'obj_conn', type: 'connection', cluster_id: null, owner: 'materialize' },
      { ...secret, schema_id: 'u3', name: 'obj_secret', type: 'secret', cluster_id: null, owner: 'materialize' },
    ]);
  });

  it('describe the system relations, as the query of Materialize’s own catalog test reads them', async () => {
    // test/sqllogictest/autogenerated/mz_catalog.slt builds its `objects` view with this join.
    const objects = `SELECT
    schema.name AS schema,
    objects.name AS object,
    columns.position,
    columns.name,
    columns.type,
    comments.comment
  FROM
    mz_catalog.mz_columns AS columns
    JOIN mz_catalog.mz_objects AS objects ON columns.id = objects.id
    JOIN mz_catalog.mz_schemas AS schema ON objects.schema_id = schema.id
    LEFT JOIN mz_internal.mz_comments AS comments ON columns.id = comments.id AND columns.position = comments.object_sub_id`;
    const { rows } = await c.query(`SELECT name, type, comment FROM (${objects}) o WHERE schema = 'mz_catalog' AND object = 'mz_connections' ORDER BY position`);
    expect(rows).toEqual(
      [
        ['id', 'text'],
        ['oid', 'oid'],
        ['schema_id', 'text'],
        ['name', 'text'],
        ['type', 'text'],
        ['owner_id', 'text'],
        ['privileges', 'text[]'],
        ['create_sql', 'text'],
        ['redacted_create_sql', 'text'],
      ].map(([name, type]) => ({ name, type, comment: null })),
    );
    const comments = await c.query(`SELECT name, type FROM (${objects}) o WHERE schema = 'mz_internal' AND object = 'mz_comments' ORDER BY position`);
    expect(comments.rows).toEqual([
      { name: 'id', type: 'text' },
      { name: 'object_type', type: 'text' },
      { name: 'object_sub_id', type: 'integer' },
      { name: 'comment', type: 'text' },
    ]);
    const kinds = await c.query("SELECT DISTINCT s.name AS schema, o.type FROM mz_objects o JOIN mz_schemas s ON s.id = o.schema_id ORDER BY 1, 2");
    expect(kinds.rows).toContainEqual({ schema: 'mz_catalog', type: 'view' });
    expect(kinds.rows).toContainEqual({ schema: 'pg_catalog', type: 'table' });
    const columns = await c.query("SELECT c.position, c.nullable, c.type_oid, c.type_mod, c.default FROM mz_columns c JOIN mz_objects o ON o.id = c.id WHERE o.name = 'mz_aws_connections' AND c.name = 'example_trust_policy'");
    expect(columns.rows).toEqual([{ position: '13', nullable: true, type_oid: 3802, type_mod: -1, default: null }]);
  });

  it('never show iamlink’s internal relations', async () => {
    const { rows } = await c.query("SELECT count(*)::int AS n FROM mz_objects WHERE name IN ('items', 'secrets', 'comments', 'system_relations', 'issued_ids')");
    expect(rows).toEqual([{ n: 0 }]);
  });
});

describe('the SQL renderer of migration 0003', () => {
  it('renders what the server stores, so a catalog from before 0003 gets the same text', async () => {
    const dataDir = await freshDataDir();
    try {
      const server = await startTestServer([], dataDir);
      const c = await server.client();
      await c.query("CREATE SECRET \"Odd \"\"Name\"\"\" AS 'k'");
      await c.query("CREATE SECRET plain AS 'k'");
      await c.query(`CREATE CONNECTION "select" TO AWS (ASSUME ROLE ARN = '${ARN}', ASSUME ROLE SESSION NAME = 'it.s', ENDPOINT = 'https://sts.example.com/a''b', REGION = 'eu-west-1')`);
      await c.query("CREATE CONNECTION k1 TO AWS (ACCESS KEY ID = 'AKIA\\x', SECRET ACCESS KEY = SECRET \"Odd \"\"Name\"\"\", SESSION TOKEN = 'inline')");
      await c.query('CREATE CONNECTION k2 TO AWS (ACCESS KEY ID = SECRET plain, SECRET ACCESS KEY = SECRET plain, SESSION TOKEN = SECRET "Odd ""Name""")');
      const shown = new Map<string, { show: string; redacted: string }>();
      for (const name of ['select', 'k1', 'k2']) {
        const quoted = `"${name}"`;
        shown.set(name, {
          show: (await c.query(`SHOW CREATE CONNECTION ${quoted}`)).rows[0].create_sql,
          redacted: (await c.query(`SHOW REDACTED CREATE CONNECTION ${quoted}`)).rows[0].create_sql,
        });
      }
      await server.stop();

      const store = await PgliteStore.open(join(dataDir, 'catalog'));
      try {
        const rows = await store.query<{ name: string; create_sql: string; redacted_create_sql: string; catalog: string; catalog_redacted: string; show: string; show_redacted: string }>(
          `SELECT name, create_sql, redacted_create_sql,
                  iamlink_internal.render_connection_sql(name, definition, 'catalog') AS catalog,
                  iamlink_internal.render_connection_sql(name, definition, 'catalog_redacted') AS catalog_redacted,
                  iamlink_internal.render_connection_sql(name, definition, 'show') AS show,
                  iamlink_internal.render_connection_sql(name, definition, 'show_redacted') AS show_redacted
             FROM iamlink_internal.items WHERE kind = 'connection' ORDER BY name`,
        );
        expect(rows).toHaveLength(3);
        for (const r of rows) {
          expect(r.catalog).toBe(r.create_sql);
          expect(r.catalog_redacted).toBe(r.redacted_create_sql);
          expect(r.show).toBe(shown.get(r.name)!.show);
          expect(r.show_redacted).toBe(shown.get(r.name)!.redacted);
        }
      } finally {
        await store.close();
      }
    } finally {
      await rm(join(dataDir, '..'), { recursive: true, force: true });
    }
  });
});

describe('migrations on a real PostgreSQL', () => {
  it('0001 to 0003 run unchanged, and the new views and the re-rendering work there', { timeout: 120_000 }, async () => {
    const pgServer = await startPostgres();
    try {
      const c = await pgServer.client();
      await c.query('CREATE SCHEMA IF NOT EXISTS iamlink_internal');
      const files = (await readdir(MIGRATIONS)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
      expect(files.slice(0, 3)).toEqual(['0001_catalog.sql', '0002_harden.sql', '0003_compat.sql']);
      for (const file of files.slice(0, 2)) await c.query(await readFile(join(MIGRATIONS, file), 'utf8'));
      // A catalog from before 0003: its create_sql in the old shape, to be rendered anew.
      await c.query(`INSERT INTO iamlink_internal.config VALUES ('aws_external_id_prefix', 'p')`);
      await c.query(`INSERT INTO iamlink_internal.roles VALUES ('u1', 30001, 'materialize')`);
      await c.query(`INSERT INTO iamlink_internal.items (id, oid, kind, schema_id, name, owner_id) VALUES ('u1', 20000, 'secret', 'u3', 'key', 'u1')`);
      await c.query(
        `INSERT INTO iamlink_internal.items (id, oid, kind, schema_id, name, owner_id, definition, create_sql, redacted_create_sql)
         VALUES ('u2', 20001, 'connection', 'u3', 'keys', 'u1', '{"access_key_id": {"literal": "AKIA"}, "secret_access_key": "u1"}', 'old', 'old')`,
      );
      await c.query('BEGIN');
      await c.query(await readFile(join(MIGRATIONS, '0003_compat.sql'), 'utf8'));
      await c.query('COMMIT');
      expect((await c.query("SELECT create_sql, redacted_create_sql FROM mz_catalog.mz_connections")).rows).toEqual([
        {
          create_sql: `CREATE CONNECTION "materialize"."public"."keys" TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET [u1 AS "materialize"."public"."key"])`,
          redacted_create_sql: `CREATE CONNECTION materialize.public.keys TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET [u1 AS materialize.public.key])`,
        },
      ]);
      await c.query(`INSERT INTO iamlink_internal.comments VALUES ('u2', 'on postgres')`);
      expect((await c.query('SELECT name, type, comment FROM mz_internal.mz_show_connections')).rows).toEqual([{ name: 'keys', type: 'aws', comment: 'on postgres' }]);
      expect((await c.query('SELECT name, comment FROM mz_internal.mz_show_secrets')).rows).toEqual([{ name: 'key', comment: '' }]);
      expect((await c.query("SELECT type FROM mz_catalog.mz_objects WHERE name IN ('keys', 'key') ORDER BY name")).rows).toEqual([{ type: 'secret' }, { type: 'connection' }]);
      expect((await c.query("SELECT count(*)::int AS n FROM mz_catalog.mz_columns c JOIN mz_catalog.mz_objects o USING (id) WHERE o.name = 'mz_comments'")).rows).toEqual([{ n: 4 }]);
      await c.end();
    } finally {
      await pgServer.stop();
    }
  });
});

