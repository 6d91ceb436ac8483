/**
 * Catalog behaviour, the same on every store: CREATE/ALTER/DROP/RENAME of secrets and
 * connections, IF [NOT] EXISTS, the errors that refuse a change (and change nothing), and
 * catalog transactions.
 */
import { describe, expect, it } from 'vitest';
import { catalogSnapshot, errorOf, STORES, useTestServer } from '../support/server.js';
import { collectNotices } from './contract-helpers.js';

const ROLE_ARN = 'arn:aws:iam::001234567890:role/Customer';

describe.each(STORES)('catalog behaviour (%s store)', (store) => {
  const server = useTestServer([], store);

  it('creates, alters, renames and drops secrets and connections', async () => {
    const c = await server().client();
    expect((await c.query("CREATE SECRET life_key AS 'v1'")).command).toBe('CREATE');
    await c.query(`CREATE CONNECTION life_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET life_key, REGION = 'us-east-1')`);
    await c.query(`CREATE CONNECTION life_role TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
    const ids = async (): Promise<Record<string, string>> =>
      Object.fromEntries(
        (await c.query("SELECT name, id FROM mz_objects WHERE name LIKE 'life\\_%'")).rows.map((r: { name: string; id: string }) => [r.name, r.id]),
      );
    const created = await ids();
    expect(Object.keys(created).sort()).toEqual(['life_key', 'life_keys', 'life_role']);
    expect((await c.query("SELECT name, type FROM mz_connections WHERE name LIKE 'life\\_%' ORDER BY name")).rows).toEqual([
      { name: 'life_keys', type: 'aws' },
      { name: 'life_role', type: 'aws' },
    ]);

    expect((await c.query("ALTER CONNECTION life_role SET (REGION = 'eu-west-1')")).command).toBe('ALTER');
    const region = async (): Promise<unknown> =>
      (await c.query("SELECT region FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name LIKE 'life\\_role%'")).rows;
    expect(await region()).toEqual([{ region: 'eu-west-1' }]);
    await c.query('ALTER CONNECTION life_role RESET (REGION)');
    expect(await region()).toEqual([{ region: null }]);

    expect((await c.query("ALTER SECRET life_key AS 'v2'")).command).toBe('ALTER');
    await c.query('ALTER SECRET life_key RENAME TO life_key_renamed');
    await c.query('ALTER CONNECTION life_role RENAME TO life_role_renamed');
    // A rename keeps the id, and so the external id handed to the customer.
    expect(await ids()).toEqual({ life_key_renamed: created.life_key, life_keys: created.life_keys, life_role_renamed: created.life_role });
    expect((await c.query("SELECT external_id FROM mz_internal.mz_aws_connections WHERE id = $1", [created.life_role])).rows).toEqual([
      { external_id: `mz_test-prefix_${created.life_role}` },
    ]);
    // The connection names its secret by id: it follows the rename.
    expect((await c.query('SHOW CREATE CONNECTION life_keys')).rows[0].create_sql).toContain('SECRET ACCESS KEY = SECRET materialize.public.life_key_renamed');
    expect(await errorOf(c.query('SHOW CREATE CONNECTION life_role'))).toMatchObject({ code: '42704' });

    expect((await c.query('DROP CONNECTION life_keys')).command).toBe('DROP');
    expect((await c.query('DROP SECRET life_key_renamed')).command).toBe('DROP');
    await c.query('DROP CONNECTION life_role_renamed');
    expect(await ids()).toEqual({});
    expect((await c.query("SELECT count(*)::int AS n FROM mz_internal.mz_object_dependencies WHERE object_id = $1", [created.life_keys])).rows).toEqual([{ n: 0 }]);
  });

  it('IF NOT EXISTS and IF EXISTS skip with a NOTICE and change nothing', async () => {
    const c = await server().client();
    const notices = collectNotices(c);
    await c.query("CREATE SECRET ine_secret AS 'first'");
    await c.query(`CREATE CONNECTION ine_conn TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
    notices.take();
    const before = await catalogSnapshot(c);

    const cases: [string, string, { code: string; message: string }][] = [
      ["CREATE SECRET IF NOT EXISTS ine_secret AS 'second'", 'CREATE', { code: '42710', message: 'secret "materialize.public.ine_secret" already exists, skipping' }],
      [
        "CREATE CONNECTION IF NOT EXISTS ine_conn TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/Other')",
        'CREATE',
        { code: '42710', message: 'connection "materialize.public.ine_conn" already exists, skipping' },
      ],
      ['DROP SECRET IF EXISTS ine_missing', 'DROP', { code: '42704', message: 'secret "ine_missing" does not exist, skipping' }],
      ['DROP CONNECTION IF EXISTS ine_missing', 'DROP', { code: '42704', message: 'connection "ine_missing" does not exist, skipping' }],
      ["ALTER SECRET IF EXISTS ine_missing AS 'x'", 'ALTER', { code: '42704', message: 'secret "ine_missing" does not exist, skipping' }],
      ['ALTER SECRET IF EXISTS ine_missing RENAME TO ine_other', 'ALTER', { code: '42704', message: 'secret "ine_missing" does not exist, skipping' }],
      ["ALTER CONNECTION IF EXISTS ine_missing SET (REGION = 'us-east-1')", 'ALTER', { code: '42704', message: 'connection "ine_missing" does not exist, skipping' }],
      ['ALTER CONNECTION IF EXISTS ine_missing RENAME TO ine_other', 'ALTER', { code: '42704', message: 'connection "ine_missing" does not exist, skipping' }],
    ];
    for (const [sql, command, notice] of cases) {
      expect((await c.query(sql)).command, sql).toBe(command);
      expect(notices.take(), sql).toEqual([{ ...notice, severity: 'NOTICE' }]);
    }
    expect(await catalogSnapshot(c)).toEqual(before);
  });

  it('refuses duplicates (42710), unknown names (42704) and the wrong object type (42809), changing nothing', async () => {
    const c = await server().client();
    await c.query("CREATE SECRET err_secret AS 'x'");
    await c.query("CREATE SECRET err_secret2 AS 'x'");
    await c.query(`CREATE CONNECTION err_conn TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
    await c.query(`CREATE CONNECTION err_conn2 TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
    const before = await catalogSnapshot(c);

    const cases: [string, string, string | RegExp][] = [
      ["CREATE SECRET err_secret AS 'y'", '42710', 'secret "materialize.public.err_secret" already exists'],
      [`CREATE CONNECTION err_conn TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`, '42710', 'connection "materialize.public.err_conn" already exists'],
      // Secrets and connections share one namespace, as in Materialize.
      [`CREATE CONNECTION err_secret TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`, '42710', /"materialize\.public\.err_secret" already exists/],
      ["CREATE SECRET err_conn AS 'y'", '42710', /"materialize\.public\.err_conn" already exists/],
      ['ALTER SECRET err_secret RENAME TO err_secret2', '42710', /"materialize\.public\.err_secret2" already exists/],
      ['ALTER CONNECTION err_conn RENAME TO err_conn2', '42710', 'connection "materialize.public.err_conn2" already exists'],
      ['ALTER CONNECTION err_conn RENAME TO err_secret', '42710', /"materialize\.public\.err_secret" already exists/],
      ['DROP SECRET err_missing', '42704', "unknown catalog item 'err_missing'"],
      ['DROP CONNECTION err_missing', '42704', "unknown catalog item 'err_missing'"],
      ["ALTER SECRET err_missing AS 'x'", '42704', "unknown catalog item 'err_missing'"],
      ["ALTER CONNECTION err_missing SET (REGION = 'us-east-1')", '42704', "unknown catalog item 'err_missing'"],
      ["CREATE CONNECTION err_new TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET err_missing)", '42704', "unknown catalog item 'err_missing'"],
      ['DROP CONNECTION err_secret', '42809', 'materialize.public.err_secret is not a connection'],
      ['DROP SECRET err_conn', '42809', 'materialize.public.err_conn is not a secret'],
      ["ALTER SECRET err_conn AS 'x'", '42809', 'materialize.public.err_conn is not a secret'],
      ['ALTER CONNECTION err_secret RENAME TO err_x', '42809', 'materialize.public.err_secret is not a connection'],
      ["CREATE CONNECTION err_new TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET err_conn)", '42809', 'materialize.public.err_conn is not a secret'],
      // One bad name in a list: nothing in the list is dropped.
      ['DROP SECRET err_secret, err_missing', '42704', "unknown catalog item 'err_missing'"],
      ['DROP CONNECTION err_conn, err_secret', '42809', 'materialize.public.err_secret is not a connection'],
    ];
    for (const [sql, code, message] of cases) {
      const err = await errorOf(c.query(sql));
      expect(err.code, sql).toBe(code);
      if (typeof message === 'string') expect(err.message, sql).toBe(message);
      else expect(err.message, sql).toMatch(message);
    }
    expect(await catalogSnapshot(c)).toEqual(before);
  });

  it('refuses DROP SECRET while a connection uses it (2BP01); CASCADE drops the connection too', async () => {
    const c = await server().client();
    const notices = collectNotices(c);
    await c.query("CREATE SECRET dep_secret AS 'x'");
    await c.query("CREATE CONNECTION dep_conn TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET dep_secret)");
    const before = await catalogSnapshot(c);

    for (const sql of ['DROP SECRET dep_secret', 'DROP SECRET dep_secret RESTRICT', 'DROP SECRET IF EXISTS dep_secret']) {
      const err = await errorOf(c.query(sql));
      expect(err, sql).toMatchObject({ code: '2BP01', message: 'cannot drop secret "dep_secret": still depended upon by connection "dep_conn"' });
      expect(err.hint, sql).toContain('CASCADE');
    }
    expect(await catalogSnapshot(c)).toEqual(before);
    notices.take();

    expect((await c.query('DROP SECRET dep_secret CASCADE')).command).toBe('DROP');
    expect(notices.take()).toEqual([{ code: '00000', severity: 'NOTICE', message: 'drop cascades to connection "materialize.public.dep_conn"' }]);
    expect((await c.query("SELECT name FROM mz_objects WHERE name LIKE 'dep\\_%'")).rows).toEqual([]);
    const ids = (before as { secrets: { id: string; name: string }[] }).secrets.filter((s) => s.name === 'dep_secret').map((s) => s.id);
    expect((await c.query('SELECT * FROM mz_internal.mz_object_dependencies WHERE referenced_object_id = ANY($1)', [ids])).rows).toEqual([]);
  });

  it('a failed statement in a multi-statement query string applies nothing', async () => {
    const c = await server().client();
    const before = await catalogSnapshot(c);
    expect(await errorOf(c.query("CREATE SECRET multi_a AS 'x'; SELEC 1"))).toMatchObject({ code: '42601' });
    expect(await errorOf(c.query("CREATE SECRET multi_a AS 'x'; CREATE SECRET multi_a AS 'y'"))).toMatchObject({ code: '42710' });
    expect(
      await errorOf(c.query("CREATE SECRET multi_a AS 'x'; CREATE CONNECTION multi_c TO AWS (ASSUME ROLE ARN = 'not-an-arn')")),
    ).toMatchObject({ code: '22023' });
    expect(await errorOf(c.query("CREATE SECRET multi_a AS 'x'; DROP SECRET multi_missing"))).toMatchObject({ code: '42704' });
    expect(await catalogSnapshot(c)).toEqual(before);
    // And a string that succeeds applies every statement in it.
    await c.query(`CREATE SECRET multi_a AS 'x'; CREATE CONNECTION multi_c TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET multi_a)`);
    expect((await c.query("SELECT name FROM mz_objects WHERE name LIKE 'multi\\_%' ORDER BY name")).rows).toEqual([{ name: 'multi_a' }, { name: 'multi_c' }]);
  });

  it('BEGIN … COMMIT applies both CREATEs at COMMIT; ROLLBACK applies none', async () => {
    const a = await server().client();
    const b = await server().client();
    const names = async (): Promise<unknown> => (await b.query("SELECT name FROM mz_objects WHERE name LIKE 'tx\\_%' ORDER BY name")).rows;

    expect((await a.query('BEGIN')).command).toBe('BEGIN');
    await a.query("CREATE SECRET tx_secret AS 'v'");
    await a.query("CREATE CONNECTION tx_conn TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET tx_secret)");
    // The transaction sees its own changes, with the ids COMMIT keeps; no one else does yet.
    const inside = (await a.query("SELECT id, name FROM mz_objects WHERE name LIKE 'tx\\_%' ORDER BY name")).rows;
    expect(inside.map((r: { name: string }) => r.name)).toEqual(['tx_conn', 'tx_secret']);
    expect(await names()).toEqual([]);
    expect((await a.query('COMMIT')).command).toBe('COMMIT');
    expect((await b.query("SELECT id, name FROM mz_objects WHERE name LIKE 'tx\\_%' ORDER BY name")).rows).toEqual(inside);
    const [conn, secret] = inside as { id: string }[];
    expect((await b.query('SELECT * FROM mz_internal.mz_object_dependencies WHERE object_id = $1', [conn!.id])).rows).toEqual([
      { object_id: conn!.id, referenced_object_id: secret!.id },
    ]);

    const before = await catalogSnapshot(b);
    await a.query('BEGIN');
    await a.query("CREATE SECRET tx_rolled AS 'v'");
    await a.query(`CREATE CONNECTION tx_rolled_conn TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
    await a.query('DROP CONNECTION tx_conn');
    expect((await a.query("SELECT count(*)::int AS n FROM mz_objects WHERE name LIKE 'tx\\_rolled%'")).rows).toEqual([{ n: 2 }]);
    expect((await a.query('ROLLBACK')).command).toBe('ROLLBACK');
    expect(await catalogSnapshot(a)).toEqual(before);
    expect(await catalogSnapshot(b)).toEqual(before);
  });

  it('an error inside a transaction block aborts it: later statements get 25P02 and COMMIT applies nothing', async () => {
    const c = await server().client();
    const before = await catalogSnapshot(c);
    await c.query('BEGIN');
    await c.query("CREATE SECRET txerr_a AS 'x'");
    expect(await errorOf(c.query("CREATE SECRET txerr_a AS 'y'"))).toMatchObject({ code: '42710' });
    expect(await errorOf(c.query("CREATE SECRET txerr_b AS 'z'"))).toMatchObject({ code: '25P02' });
    // COMMIT of a failed transaction rolls it back, as in PostgreSQL.
    expect((await c.query('COMMIT')).command).toBe('ROLLBACK');
    expect(await catalogSnapshot(c)).toEqual(before);
  });
});
