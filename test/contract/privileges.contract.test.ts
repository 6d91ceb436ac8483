/**
 * Roles and privileges (docs/privileges.md), on every store: a matrix of every statement against
 * an owner, a USAGE holder, a role with no privilege and a superuser, with the catalog unchanged
 * by every refusal; then what each rule means on its own.
 */
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, errorOf, STORES, useTestServer, type TestServer } from '../support/server.js';

type Actor = 'owner' | 'usage' | 'none' | 'superuser';
const ACTORS: readonly Actor[] = ['owner', 'usage', 'none', 'superuser'];
/** ok: it runs; 42501: refused; 58000: allowed, then the (unreachable) STS fails it. */
type Expected = Record<Actor, 'ok' | '42501' | '58000'>;

const all = (e: Expected[Actor]): Expected => ({ owner: e, usage: e, none: e, superuser: e });
const ownerOnly: Expected = { owner: 'ok', usage: '42501', none: '42501', superuser: 'ok' };
const superOnly: Expected = { owner: '42501', usage: '42501', none: '42501', superuser: 'ok' };

/** Every statement that reads or changes an item, a role or a privilege, and who may run it. */
const MATRIX: readonly (readonly [string, Expected])[] = [
  ["CREATE SECRET pm_new AS 'x'", ownerOnly], // CREATE on the schema: granted to the owner only
  ["CREATE CONNECTION pm_new TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET pm_s)", ownerOnly],
  ["ALTER SECRET pm_s AS 'y'", ownerOnly],
  ["ALTER CONNECTION pm_c SET (REGION = 'us-west-2')", ownerOnly],
  ['ALTER CONNECTION pm_c RESET (REGION)', ownerOnly],
  ['ALTER CONNECTION pm_c RENAME TO pm_c2', ownerOnly],
  ['ALTER SECRET pm_s RENAME TO pm_s2', ownerOnly],
  ['ALTER CONNECTION pm_c OWNER TO pm_owner', ownerOnly],
  ['ALTER SECRET pm_s OWNER TO pm_owner', ownerOnly],
  ["COMMENT ON CONNECTION pm_c IS 'c'", ownerOnly],
  ["COMMENT ON SECRET pm_s IS 's'", ownerOnly],
  ['DROP CONNECTION pm_r', ownerOnly],
  ['DROP SECRET pm_s CASCADE', ownerOnly],
  ['GRANT USAGE ON CONNECTION pm_c TO pm_none', ownerOnly],
  ['GRANT ALL PRIVILEGES ON SECRET pm_s TO PUBLIC', ownerOnly],
  ['REVOKE USAGE ON CONNECTION pm_c FROM pm_usage', ownerOnly],
  ['GRANT USAGE ON ALL CONNECTIONS IN SCHEMA public TO pm_none', ownerOnly],
  ['ALTER DEFAULT PRIVILEGES GRANT USAGE ON SECRETS TO pm_none', all('ok')], // for oneself
  ['ALTER DEFAULT PRIVILEGES FOR ROLE pm_owner GRANT USAGE ON CONNECTIONS TO pm_none', ownerOnly],
  ['ALTER DEFAULT PRIVILEGES FOR ALL ROLES GRANT USAGE ON CONNECTIONS TO pm_none', superOnly],
  ['REASSIGN OWNED BY pm_owner TO pm_owner', ownerOnly],
  ['DROP OWNED BY pm_owner CASCADE', ownerOnly],
  ['GRANT CREATE ON SCHEMA public TO pm_none', superOnly],
  ['CREATE ROLE pm_new_role LOGIN', superOnly],
  ['ALTER ROLE pm_none WITH LOGIN', superOnly],
  ['DROP ROLE pm_spare', superOnly],
  ['GRANT pm_group TO pm_none', superOnly],
  ['REVOKE pm_group FROM pm_usage', superOnly],
  ['VALIDATE CONNECTION pm_c', { owner: '58000', usage: '58000', none: '42501', superuser: '58000' }],
  ['SHOW CREATE CONNECTION pm_c', all('ok')], // a literal SESSION TOKEN in it is redacted for those without USAGE
  ['SHOW REDACTED CREATE CONNECTION pm_c', all('ok')],
];

/** A statement's outcome; catalog changes run inside BEGIN ... ROLLBACK, so that each starts from the same catalog. */
async function outcome(c: pg.Client, sql: string): Promise<string> {
  const staged = !/^(VALIDATE|SHOW)/.test(sql);
  if (staged) await c.query('BEGIN');
  try {
    await c.query(sql);
    return 'ok';
  } catch (err) {
    return (err as pg.DatabaseError).code ?? 'none';
  } finally {
    if (staged) await c.query('ROLLBACK');
  }
}

describe.each(STORES)('roles and privileges (%s store)', (store) => {
  const server = useTestServer(['--aws-sts-timeout', '500ms'], store);
  let admin: pg.Client;
  const as = {} as Record<Actor, pg.Client>;

  /**
   * current_user and session_user as a query sees them. On the shared store a read's engine
   * session is the catalog's client login role, so the engine's session_user is that role
   * (docs/privileges.md): SHOW session_authorization is the session user there.
   */
  const who = async (c: pg.Client) => {
    const row = (await c.query('SELECT current_user, session_user')).rows[0];
    const session = store === 'pglite' ? row.session_user : (await c.query('SHOW session_authorization')).rows[0].session_authorization;
    return { current_user: row.current_user, session_user: session };
  };

  beforeAll(async () => {
    const s: TestServer = server();
    admin = await s.client();
    for (const sql of [
      'CREATE ROLE pm_owner LOGIN',
      'CREATE ROLE pm_usage LOGIN',
      'CREATE ROLE pm_none LOGIN',
      'CREATE ROLE pm_super LOGIN SUPERUSER',
      'CREATE ROLE pm_group',
      'CREATE ROLE pm_spare',
      'GRANT pm_group TO pm_usage',
      'GRANT CREATE ON SCHEMA public TO pm_owner',
    ]) {
      await admin.query(sql);
    }
    as.owner = await s.client({ user: 'pm_owner' });
    as.usage = await s.client({ user: 'pm_usage' });
    as.none = await s.client({ user: 'pm_none' });
    as.superuser = await s.client({ user: 'pm_super' });
    await as.owner.query("CREATE SECRET pm_s AS 'pm-secret-value'");
    await as.owner.query("CREATE CONNECTION pm_c TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET pm_s, ENDPOINT = 'http://127.0.0.1:9', REGION = 'us-east-1')");
    await as.owner.query("CREATE CONNECTION pm_r TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/Customer')");
    await as.owner.query('GRANT USAGE ON SECRET pm_s TO pm_usage');
    await as.owner.query('GRANT USAGE ON CONNECTION pm_c, pm_r TO pm_group');
  });

  it('every statement × owner, USAGE holder, no privilege and superuser: the expected outcome, and nothing changed by a refusal', async () => {
    const before = await catalogSnapshot(admin);
    const got: string[] = [];
    const want: string[] = [];
    for (const [sql, expected] of MATRIX) {
      for (const actor of ACTORS) {
        got.push(`${actor}: ${sql} → ${await outcome(as[actor], sql)}`);
        want.push(`${actor}: ${sql} → ${expected[actor]}`);
      }
    }
    expect(got).toEqual(want);
    expect(await catalogSnapshot(admin)).toEqual(before);
  });

  it("refuses in Materialize's words: the object, and the privilege missing in DETAIL", async () => {
    expect(await errorOf(as.none.query('VALIDATE CONNECTION pm_c'))).toMatchObject({
      code: '42501',
      message: 'permission denied for CONNECTION "materialize.public.pm_c"',
      detail: "The 'pm_none' role needs USAGE privileges on CONNECTION \"materialize.public.pm_c\"",
    });
    expect(await errorOf(as.usage.query("CREATE SECRET x AS 'y'"))).toMatchObject({
      code: '42501',
      message: 'permission denied for SCHEMA "materialize.public"',
      detail: "The 'pm_usage' role needs CREATE privileges on SCHEMA \"materialize.public\"",
    });
    expect(await errorOf(as.usage.query('DROP CONNECTION pm_c'))).toMatchObject({ code: '42501', message: 'must be owner of CONNECTION materialize.public.pm_c' });
    expect(await errorOf(as.owner.query('CREATE ROLE x'))).toMatchObject({
      code: '42501',
      message: 'permission denied for SYSTEM',
      detail: "The 'pm_owner' role needs CREATEROLE privileges on SYSTEM",
    });
    // Outside a transaction too: the refusal changes nothing.
    const before = await catalogSnapshot(admin);
    for (const sql of ['DROP SECRET pm_s CASCADE', "ALTER CONNECTION pm_c SET (REGION = 'eu-west-1')", 'GRANT USAGE ON CONNECTION pm_c TO pm_none', 'DROP ROLE pm_spare']) {
      expect((await errorOf(as.usage.query(sql))).code, sql).toBe('42501');
    }
    expect(await catalogSnapshot(admin)).toEqual(before);
  });

  it('shows ACLs in Materialize\'s text form, owners and grantors by role id', async () => {
    const ids = Object.fromEntries((await admin.query("SELECT name, id FROM mz_roles WHERE name LIKE 'pm_%'")).rows.map((r) => [r.name, r.id]));
    const { rows } = await admin.query("SELECT name, owner_id, privileges FROM mz_connections WHERE name = 'pm_c'");
    expect(rows).toEqual([{ name: 'pm_c', owner_id: ids.pm_owner, privileges: [`${ids.pm_owner}=U/${ids.pm_owner}`, `${ids.pm_group}=U/${ids.pm_owner}`] }]);
    const schema = (await admin.query("SELECT privileges FROM mz_schemas WHERE name = 'public'")).rows[0].privileges as string[];
    expect(schema).toEqual(['s1=UC/s1', `${ids.pm_owner}=C/s1`, '=U/s1']);
    expect((await admin.query('SELECT * FROM mz_role_members WHERE member = $1', [ids.pm_usage])).rows).toEqual([{ role_id: ids.pm_group, member: ids.pm_usage, grantor: 's1' }]);
  });

  it('mz_aws_connections shows a role only the connections it may use; create_sql only to them', async () => {
    const names = async (c: pg.Client) => (await c.query('SELECT c.name FROM mz_internal.mz_aws_connections a JOIN mz_connections c USING (id) ORDER BY 1')).rows.map((r) => r.name);
    expect(await names(as.none)).toEqual([]);
    expect(await names(as.usage)).toEqual(['pm_c', 'pm_r']); // through pm_group
    expect(await names(as.owner)).toEqual(['pm_c', 'pm_r']);
    expect((await names(admin)).length).toBeGreaterThanOrEqual(2);
    // Every connection is listed (as in Materialize); its create_sql only for those who may use it.
    expect((await as.none.query("SELECT name, create_sql, redacted_create_sql IS NOT NULL AS r FROM mz_connections WHERE name = 'pm_c'")).rows).toEqual([{ name: 'pm_c', create_sql: null, r: true }]);
    expect((await as.usage.query("SELECT create_sql IS NOT NULL AS shown FROM mz_connections WHERE name = 'pm_c'")).rows).toEqual([{ shown: true }]);
  });

  it('USAGE comes and goes with GRANT and REVOKE, also for the owner (owning gives no privilege by itself)', async () => {
    const owner = as.owner;
    await owner.query("CREATE CONNECTION pm_t TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/T')");
    const sees = async (c: pg.Client) => (await c.query("SELECT count(*)::int AS n FROM mz_internal.mz_aws_connections a JOIN mz_connections c USING (id) WHERE c.name = 'pm_t'")).rows[0].n;
    expect(await sees(as.none)).toBe(0);
    await owner.query('GRANT USAGE ON CONNECTION pm_t TO pm_none');
    expect(await sees(as.none)).toBe(1);
    await owner.query('REVOKE USAGE ON CONNECTION pm_t FROM pm_none');
    expect(await sees(as.none)).toBe(0);
    await owner.query('REVOKE USAGE ON CONNECTION pm_t FROM pm_owner');
    expect(await sees(owner)).toBe(0);
    expect((await errorOf(owner.query('VALIDATE CONNECTION pm_t'))).code).toBe('42501');
    await owner.query('GRANT USAGE ON CONNECTION pm_t TO pm_owner');
    expect(await sees(owner)).toBe(1);
    await owner.query('DROP CONNECTION pm_t');
  });

  it('ALTER DEFAULT PRIVILEGES grants on what the role creates later', async () => {
    await as.owner.query('ALTER DEFAULT PRIVILEGES FOR ROLE pm_owner IN SCHEMA public GRANT USAGE ON SECRETS TO pm_none');
    await as.owner.query("CREATE SECRET pm_later AS 'v'");
    const none = (await admin.query("SELECT id FROM mz_roles WHERE name = 'pm_none'")).rows[0].id;
    expect((await admin.query("SELECT privileges FROM mz_secrets WHERE name = 'pm_later'")).rows[0].privileges).toContain(`${none}=U/${(await admin.query("SELECT id FROM mz_roles WHERE name = 'pm_owner'")).rows[0].id}`);
    expect((await admin.query('SELECT object_type, grantee, privileges FROM mz_default_privileges')).rows).toContainEqual({ object_type: 'SECRET', grantee: none, privileges: 'U' });
    await as.owner.query('ALTER DEFAULT PRIVILEGES FOR ROLE pm_owner IN SCHEMA public REVOKE USAGE ON SECRETS FROM pm_none');
    await as.owner.query("CREATE SECRET pm_later2 AS 'v'");
    expect((await admin.query("SELECT privileges FROM mz_secrets WHERE name = 'pm_later2'")).rows[0].privileges).toHaveLength(1);
    await as.owner.query('DROP SECRET pm_later, pm_later2');
  });

  it('ALTER ... OWNER TO moves the owner\'s privileges; DROP ROLE is refused (2BP01) while the role owns or holds anything', async () => {
    await admin.query('CREATE ROLE pm_leaving LOGIN');
    await admin.query('GRANT CREATE ON SCHEMA public TO pm_leaving');
    const leaving = await server().client({ user: 'pm_leaving' });
    await leaving.query("CREATE SECRET pm_left AS 'v'");
    await leaving.end();
    const err = await errorOf(admin.query('DROP ROLE pm_leaving'));
    expect(err).toMatchObject({ code: '2BP01', message: 'role "pm_leaving" cannot be dropped because some objects depend on it' });
    expect(err.detail).toContain('pm_leaving: owner of SECRET "materialize.public.pm_left"');
    expect(err.detail).toContain('pm_leaving: privileges granted on SCHEMA "materialize.public" to pm_leaving');
    await admin.query('ALTER SECRET pm_left OWNER TO pm_owner');
    const ownerId = (await admin.query("SELECT id FROM mz_roles WHERE name = 'pm_owner'")).rows[0].id;
    expect((await admin.query("SELECT owner_id, privileges FROM mz_secrets WHERE name = 'pm_left'")).rows).toEqual([{ owner_id: ownerId, privileges: [`${ownerId}=U/${ownerId}`] }]);
    await admin.query('REVOKE CREATE ON SCHEMA public FROM pm_leaving');
    await admin.query('DROP ROLE pm_leaving');
    expect((await admin.query("SELECT count(*)::int AS n FROM mz_roles WHERE name = 'pm_leaving'")).rows[0].n).toBe(0);
    expect((await errorOf(server().client({ user: 'pm_leaving' }))).code).toBe('28000');
    await admin.query('DROP SECRET pm_left');
  });

  it('REASSIGN OWNED and DROP OWNED clear a role for DROP ROLE (members of the roles only)', async () => {
    await admin.query('CREATE ROLE pm_gone LOGIN');
    await admin.query('GRANT CREATE ON SCHEMA public TO pm_gone');
    const gone = await server().client({ user: 'pm_gone' });
    await gone.query("CREATE SECRET pm_gone_s AS 'v'");
    await gone.query("CREATE CONNECTION pm_gone_c TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET pm_gone_s)");
    await gone.query("CREATE SECRET pm_gone_t AS 'w'");
    await as.owner.query('GRANT USAGE ON CONNECTION pm_c TO pm_gone');
    expect((await errorOf(as.none.query('REASSIGN OWNED BY pm_gone TO pm_none'))).code).toBe('42501');
    expect((await errorOf(as.none.query('DROP OWNED BY pm_gone'))).code).toBe('42501');
    await gone.query('REASSIGN OWNED BY pm_gone TO pm_gone'); // nothing to move
    await admin.query('REASSIGN OWNED BY pm_gone TO pm_owner');
    const owner = (await admin.query("SELECT id FROM mz_roles WHERE name = 'pm_owner'")).rows[0].id;
    expect((await admin.query("SELECT name, owner_id FROM mz_objects WHERE name LIKE 'pm_gone_%' ORDER BY name")).rows).toEqual([
      { name: 'pm_gone_c', owner_id: owner },
      { name: 'pm_gone_s', owner_id: owner },
      { name: 'pm_gone_t', owner_id: owner },
    ]);
    await gone.query("CREATE SECRET pm_gone_u AS 'x'");
    await gone.query('DROP OWNED BY pm_gone');
    expect((await admin.query("SELECT count(*)::int AS n FROM mz_objects WHERE name = 'pm_gone_u'")).rows[0].n).toBe(0);
    expect((await errorOf(gone.query("CREATE SECRET pm_gone_v AS 'x'"))).code).toBe('42501'); // its CREATE was revoked too
    await gone.end();
    await admin.query('DROP ROLE pm_gone');
    expect((await admin.query("SELECT privileges FROM mz_connections WHERE name = 'pm_c'")).rows[0].privileges).toHaveLength(2);
    await as.owner.query('DROP CONNECTION pm_gone_c');
    await as.owner.query('DROP SECRET pm_gone_s, pm_gone_t');
  });

  it('memberships: privileges are inherited, cycles refused (0LP01), NOINHERIT holds them only after SET ROLE', async () => {
    expect(await errorOf(admin.query('GRANT pm_usage TO pm_group'))).toMatchObject({ code: '0LP01', message: 'role "pm_group" is a member of role "pm_usage"' });
    expect((await errorOf(admin.query('GRANT pm_group TO pm_group'))).code).toBe('0LP01');
    await admin.query('CREATE ROLE pm_noinherit LOGIN NOINHERIT');
    await admin.query('GRANT pm_group TO pm_noinherit');
    const c = await server().client({ user: 'pm_noinherit' });
    expect((await errorOf(c.query('VALIDATE CONNECTION pm_c'))).code).toBe('42501');
    await c.query('SET ROLE pm_group');
    expect(await who(c)).toEqual({ current_user: 'pm_group', session_user: 'pm_noinherit' });
    expect((await errorOf(c.query('VALIDATE CONNECTION pm_c'))).code).toBe('58000'); // allowed; STS unreachable
    await c.query('RESET ROLE');
    expect((await c.query('SELECT current_user')).rows).toEqual([{ current_user: 'pm_noinherit' }]);
    await c.end();
  });

  it('SET ROLE only to roles one is a member of; SESSION AUTHORIZATION only for a superuser login; both tell the truth', async () => {
    expect(await errorOf(as.none.query('SET ROLE pm_owner'))).toMatchObject({ code: '42501', message: 'permission denied to set role "pm_owner"' });
    expect((await errorOf(as.none.query('SET ROLE no_such_role'))).code).toBe('42704');
    expect((await errorOf(as.none.query('SET SESSION AUTHORIZATION pm_owner'))).code).toBe('42501');
    await as.usage.query('SET ROLE pm_group');
    expect((await as.usage.query('SHOW role')).rows).toEqual([{ role: 'pm_group' }]);
    // Items created under SET ROLE belong to the role set.
    await admin.query('GRANT CREATE ON SCHEMA public TO pm_group');
    await as.usage.query("CREATE SECRET pm_by_group AS 'v'");
    const group = (await admin.query("SELECT id FROM mz_roles WHERE name = 'pm_group'")).rows[0].id;
    expect((await admin.query("SELECT owner_id FROM mz_secrets WHERE name = 'pm_by_group'")).rows).toEqual([{ owner_id: group }]);
    await as.usage.query('DROP SECRET pm_by_group');
    await admin.query('REVOKE CREATE ON SCHEMA public FROM pm_group');
    await as.usage.query('SET ROLE NONE');
    expect((await as.usage.query('SELECT current_user')).rows).toEqual([{ current_user: 'pm_usage' }]);
    const su = await server().client({ user: 'pm_super' });
    await su.query('SET SESSION AUTHORIZATION pm_none');
    expect(await who(su)).toEqual({ current_user: 'pm_none', session_user: 'pm_none' });
    expect((await su.query('SHOW session_authorization')).rows).toEqual([{ session_authorization: 'pm_none' }]);
    expect((await errorOf(su.query('VALIDATE CONNECTION pm_c'))).code).toBe('42501');
    await su.query('RESET SESSION AUTHORIZATION');
    expect(await who(su)).toEqual({ current_user: 'pm_super', session_user: 'pm_super' });
    await su.end();
  });

  it('no role is made by logging in; only CREATEROLE holders make roles, and only superusers make superusers', async () => {
    expect(await errorOf(server().client({ user: 'pm_nobody' }))).toMatchObject({ code: '28000', message: 'role "pm_nobody" does not exist' });
    expect(await errorOf(server().client({ user: 'pm_group' }))).toMatchObject({ code: '28000', message: 'role "pm_group" is not permitted to log in' });
    expect((await admin.query("SELECT count(*)::int AS n FROM mz_roles WHERE name = 'pm_nobody'")).rows[0].n).toBe(0);
    await admin.query('CREATE ROLE pm_admin LOGIN CREATEROLE');
    const ra = await server().client({ user: 'pm_admin' });
    await ra.query('CREATE ROLE pm_made LOGIN');
    expect(await errorOf(ra.query('CREATE ROLE pm_made_super SUPERUSER'))).toMatchObject({ code: '42501', message: 'permission denied to create superuser role' });
    expect((await errorOf(ra.query('ALTER ROLE pm_super NOSUPERUSER'))).code).toBe('42501');
    expect(await errorOf(ra.query('CREATE ROLE mz_evil'))).toMatchObject({ code: '42939', message: 'role name "mz_evil" is reserved' });
    expect((await errorOf(ra.query('CREATE ROLE PUBLIC'))).code).toBe('42939');
    expect((await errorOf(ra.query('CREATE ROLE pm_made'))).code).toBe('42710');
    expect((await errorOf(ra.query('CREATE ROLE pm_x CREATEDB'))).code).toBe('0A000');
    const id = (await admin.query("SELECT id FROM mz_roles WHERE name = 'pm_admin'")).rows[0].id;
    expect((await admin.query('SELECT privileges FROM mz_system_privileges')).rows).toContainEqual({ privileges: `${id}=R/s1` });
    await ra.query('DROP ROLE pm_made');
    await ra.end();
  });

  it('gives nothing away through a failing cast on a hidden row, nor through the audit trail', async () => {
    await as.owner.query("CREATE CONNECTION pm_tok TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET pm_s, SESSION TOKEN = 'pm-live-session-token')");
    for (const column of ['session_token', 'assume_role_arn', 'external_id', 'access_key_id', 'example_trust_policy::text', 'region', 'endpoint']) {
      // The engine may apply the client's condition before the view's filter: the column itself must be NULL there.
      const sql = `SELECT count(*)::int AS n FROM mz_internal.mz_aws_connections WHERE (${column})::int = 1`;
      expect((await as.none.query(sql)).rows, column).toEqual([{ n: 0 }]);
      const joined = `SELECT count(*)::int AS n FROM mz_internal.mz_aws_connections a JOIN mz_connections c USING (id) WHERE c.name = 'pm_tok' AND (a.${column})::int = 1`;
      expect((await as.none.query(joined)).rows, column).toEqual([{ n: 0 }]);
    }
    // Those who may use it do get the value (so the guard is not simply hiding everything).
    expect((await errorOf(as.owner.query('SELECT 1 FROM mz_internal.mz_aws_connections WHERE session_token::int = 1'))).message).toContain('pm-live-session-token');
    // SHOW CREATE answers everyone (as in Materialize), the literal token only to its users.
    const shown = async (c: pg.Client) => (await c.query('SHOW CREATE CONNECTION pm_tok')).rows[0].create_sql as string;
    expect(await shown(as.owner)).toContain("SESSION TOKEN = 'pm-live-session-token'");
    expect(await shown(as.none)).toContain("SESSION TOKEN = '<REDACTED>'");
    expect(await shown(as.none)).not.toContain('pm-live-session-token');
    // A failed validation's message and DETAIL name the connection's role and external id: only for its users.
    expect((await errorOf(as.usage.query('VALIDATE CONNECTION pm_c'))).code).toBe('58000');
    const id = (await admin.query("SELECT id FROM mz_connections WHERE name = 'pm_c'")).rows[0].id;
    const lastValidation = async (c: pg.Client) =>
      (await c.query("SELECT details FROM mz_audit_events WHERE event_type = 'validate' AND details->>'id' = $1 ORDER BY id DESC LIMIT 1", [id])).rows[0].details;
    expect(await lastValidation(as.usage)).toMatchObject({ outcome: 'failure', sqlstate: '58000', error: expect.any(String) });
    const hidden = await lastValidation(as.none);
    expect(hidden).toMatchObject({ outcome: 'failure', sqlstate: '58000', item: 'pm_c' });
    expect(hidden).not.toHaveProperty('error');
    expect(hidden).not.toHaveProperty('detail');
    await as.owner.query('DROP CONNECTION pm_tok');
  });

  it('undoes SET ROLE with the transaction; keeps a role set before its membership was revoked; refuses mz_system', async () => {
    await as.usage.query('BEGIN');
    await as.usage.query('SET ROLE pm_group');
    await as.usage.query('ROLLBACK');
    expect((await as.usage.query('SELECT current_user')).rows).toEqual([{ current_user: 'pm_usage' }]);
    expect((await errorOf(as.usage.query('SET ROLE pm_group; SELECT 1/0'))).code).toBe('22012');
    expect((await as.usage.query('SELECT current_user')).rows).toEqual([{ current_user: 'pm_usage' }]);
    await as.usage.query('SET ROLE pm_group');
    await admin.query('REVOKE pm_group FROM pm_usage');
    try {
      expect((await as.usage.query('SELECT current_user')).rows).toEqual([{ current_user: 'pm_group' }]); // as in PostgreSQL, until RESET ROLE
      await as.usage.query('RESET ROLE');
      expect((await errorOf(as.usage.query('SET ROLE pm_group'))).code).toBe('42501');
    } finally {
      await admin.query('GRANT pm_group TO pm_usage');
    }
    const su = await server().client({ user: 'pm_super' });
    expect((await errorOf(su.query('SET ROLE mz_system'))).code).toBe('42501');
    expect((await errorOf(su.query('SET SESSION AUTHORIZATION mz_system'))).code).toBe('42501');
    await su.end();
  });

  it('a role dropped and made again under its name is another role: an old session of the first gains nothing', async () => {
    await admin.query('CREATE ROLE pm_dave LOGIN');
    const old = await server().client({ user: 'pm_dave' });
    await admin.query('DROP ROLE pm_dave');
    await admin.query('CREATE ROLE pm_dave LOGIN SUPERUSER');
    expect((await old.query("SELECT create_sql FROM mz_connections WHERE name = 'pm_c'")).rows).toEqual([{ create_sql: null }]);
    expect((await old.query('SELECT count(*)::int AS n FROM mz_internal.mz_aws_connections')).rows).toEqual([{ n: 0 }]);
    expect((await errorOf(old.query('DROP CONNECTION pm_c'))).code).toBe('28000');
    await old.end();
    const fresh = await server().client({ user: 'pm_dave' });
    expect((await fresh.query("SELECT create_sql IS NOT NULL AS shown FROM mz_connections WHERE name = 'pm_c'")).rows).toEqual([{ shown: true }]);
    await fresh.end();
    await admin.query('DROP ROLE pm_dave');
  });

  it('refuses role names the engine would cut (over 63 bytes), and removing the last superuser that can log in', async () => {
    expect((await errorOf(admin.query(`CREATE ROLE "${'r'.repeat(64)}"`))).code).toBe('42622');
    await admin.query(`CREATE ROLE "${'r'.repeat(63)}"`);
    await admin.query(`DROP ROLE "${'r'.repeat(63)}"`);
    await admin.query('ALTER ROLE pm_super NOSUPERUSER');
    try {
      expect(await errorOf(admin.query('ALTER ROLE materialize NOSUPERUSER'))).toMatchObject({ code: '42501', message: 'permission denied to alter role' });
      expect((await errorOf(admin.query('ALTER ROLE materialize NOLOGIN'))).code).toBe('42501');
    } finally {
      await admin.query('ALTER ROLE pm_super SUPERUSER');
    }
  });

  it("takes Materialize's GRANT CREATEROLE ON SYSTEM (superusers only) and answers SHOW ROLES", async () => {
    await admin.query('CREATE ROLE pm_sys LOGIN');
    expect((await errorOf(as.owner.query('GRANT CREATEROLE ON SYSTEM TO pm_sys'))).code).toBe('42501');
    await admin.query('GRANT CREATEROLE ON SYSTEM TO pm_sys');
    const id = (await admin.query("SELECT id FROM mz_roles WHERE name = 'pm_sys'")).rows[0].id;
    expect((await admin.query('SELECT privileges FROM mz_system_privileges')).rows).toContainEqual({ privileges: `${id}=R/s1` });
    const sys = await server().client({ user: 'pm_sys' });
    await sys.query('CREATE ROLE pm_sys_made');
    await admin.query('REVOKE CREATEROLE ON SYSTEM FROM pm_sys');
    expect((await errorOf(sys.query('DROP ROLE pm_sys_made'))).code).toBe('42501');
    expect((await errorOf(admin.query('GRANT CREATEDB ON SYSTEM TO pm_sys'))).code).toBe('0A000');
    expect((await admin.query("SHOW ROLES LIKE 'pm_sys%'")).rows).toEqual([{ name: 'pm_sys' }, { name: 'pm_sys_made' }]);
    expect((await sys.query("SHOW ROLES WHERE name = 'materialize'")).rows).toEqual([{ name: 'materialize' }]);
    await sys.end();
    await admin.query('DROP ROLE pm_sys, pm_sys_made');
  });

  it("answers Materialize's has_connection_privilege and has_secret_privilege, by name or oid, for any role", async () => {
    const ask = async (c: pg.Client, sql: string) => Object.values((await c.query(sql)).rows[0] as Record<string, unknown>)[0];
    expect(await ask(as.usage, "SELECT has_connection_privilege('pm_c', 'USAGE')")).toBe(true); // through pm_group
    expect(await ask(as.none, "SELECT has_connection_privilege('pm_c', 'USAGE')")).toBe(false);
    expect(await ask(as.none, "SELECT has_connection_privilege('pm_usage', 'materialize.public.pm_c', 'usage')")).toBe(true);
    expect(await ask(as.none, "SELECT has_secret_privilege('pm_none', 'pm_s', 'USAGE')")).toBe(false);
    expect(await ask(as.none, "SELECT has_secret_privilege('pm_super', 'pm_s', 'USAGE')")).toBe(true);
    // The console's form: the current user and the connection's oid.
    const oid = (await admin.query("SELECT oid FROM mz_connections WHERE name = 'pm_c'")).rows[0].oid;
    expect(await ask(as.usage, `SELECT has_connection_privilege(current_user, ${oid}::oid, 'USAGE')`)).toBe(true);
    expect(await ask(as.none, `SELECT has_connection_privilege(current_user, ${oid}::oid, 'USAGE')`)).toBe(false);
    expect((await as.none.query("SELECT c.name FROM mz_connections c WHERE c.name LIKE 'pm_%' AND has_connection_privilege(current_user, c.oid, 'USAGE')")).rows).toEqual([]);
    expect(await ask(as.none, 'SELECT has_connection_privilege(current_user, 999999::oid, \'USAGE\')')).toBeNull();
    expect((await errorOf(as.none.query("SELECT has_connection_privilege('nope', 'USAGE')"))).code).toBe('42704');
    expect((await errorOf(as.none.query("SELECT has_connection_privilege('no_role', 'pm_c', 'USAGE')"))).code).toBe('42704');
    expect((await errorOf(as.none.query("SELECT has_connection_privilege('pm_c', 'SELECT')"))).code).toBe('22023');
    // The helpers behind them are not the client's to call.
    expect((await errorOf(as.none.query("SELECT iamlink_internal.role_holds('u1', 'u1', 'connection', 'USAGE')"))).code).toBe('42501');
  });

  it("runs the Materialize Terraform provider's role statements and its role read query (pg_roles joined by name)", async () => {
    // pkg/materialize/role.go: Create, AlterSuperuser/AlterLogin, and roleQuery.
    await admin.query('CREATE ROLE "tf-role" INHERIT WITH LOGIN NOPASSWORD NOSUPERUSER;');
    const roleQuery = `SELECT mz_roles.id, mz_roles.name AS role_name, mz_roles.inherit, pg_roles.rolsuper AS superuser, pg_roles.rolcanlogin AS login,
        comments.comment AS comment
      FROM mz_roles LEFT JOIN pg_roles ON mz_roles.name = pg_roles.rolname
      LEFT JOIN (SELECT id, comment FROM mz_internal.mz_comments WHERE object_type = 'role') comments ON mz_roles.id = comments.id
      WHERE mz_roles.name = 'tf-role'`;
    expect((await admin.query(roleQuery)).rows).toEqual([{ id: expect.stringMatching(/^u\d+$/), role_name: 'tf-role', inherit: true, superuser: false, login: true, comment: null }]);
    await admin.query('ALTER ROLE "tf-role" SUPERUSER;');
    await admin.query('ALTER ROLE "tf-role" NOLOGIN;');
    expect((await admin.query(roleQuery)).rows[0]).toMatchObject({ superuser: true, login: false });
    // Its comment: COMMENT ON ROLE, read back through mz_comments (a role's id may equal an item's:
    // SHOW CONNECTIONS and SHOW SECRETS keep to their own kind's comments).
    await admin.query(`COMMENT ON ROLE "tf-role" IS 'role 1 comment';`);
    expect((await admin.query(roleQuery)).rows[0]).toMatchObject({ comment: 'role 1 comment' });
    const tfId = (await admin.query(roleQuery)).rows[0].id;
    for (const row of (await admin.query('SELECT c.id, s.comment FROM mz_connections c JOIN mz_internal.mz_show_connections s USING (id)')).rows) {
      if (row.id === tfId) expect(row.comment).not.toBe('role 1 comment');
    }
    expect((await errorOf(as.owner.query(`COMMENT ON ROLE "tf-role" IS 'x'`))).code).toBe('42501');
    await admin.query('COMMENT ON ROLE "tf-role" IS NULL;');
    expect((await admin.query(roleQuery)).rows[0]).toMatchObject({ comment: null });
    await admin.query(`COMMENT ON ROLE "tf-role" IS 'kept until the role goes';`);
    // pg_catalog.pg_roles stays the engine's: its role never gets the attributes.
    expect((await admin.query("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = 'tf-role'")).rows).toEqual([{ rolsuper: false }]);
    await admin.query('DROP ROLE "tf-role";');
    expect((await admin.query("SELECT count(*)::int AS n FROM mz_internal.mz_comments WHERE object_type = 'role'")).rows[0].n).toBe(0);
  });

  it('records CREATE/ALTER/DROP ROLE, GRANT and REVOKE in the audit trail, in Materialize\'s shapes', async () => {
    const last = async () => (await admin.query('SELECT event_type, object_type, details, "user" FROM mz_audit_events ORDER BY id DESC LIMIT 1')).rows[0];
    await admin.query('CREATE ROLE pm_audited');
    const id = (await admin.query("SELECT id FROM mz_roles WHERE name = 'pm_audited'")).rows[0].id;
    expect(await last()).toEqual({ event_type: 'create', object_type: 'role', details: { id, name: 'pm_audited' }, user: 'materialize' });
    await admin.query('GRANT pm_group TO pm_audited');
    const group = (await admin.query("SELECT id FROM mz_roles WHERE name = 'pm_group'")).rows[0].id;
    const me = (await admin.query("SELECT id FROM mz_roles WHERE name = 'materialize'")).rows[0].id;
    expect(await last()).toEqual({ event_type: 'grant', object_type: 'role', details: { role_id: group, member_id: id, grantor_id: 's1', executed_by: me }, user: 'materialize' });
    await as.owner.query('GRANT USAGE ON CONNECTION pm_c TO pm_audited');
    const [conn, owner] = [(await admin.query("SELECT id FROM mz_connections WHERE name = 'pm_c'")).rows[0].id, (await admin.query("SELECT id FROM mz_roles WHERE name = 'pm_owner'")).rows[0].id];
    expect(await last()).toEqual({ event_type: 'grant', object_type: 'connection', details: { object_id: `I${conn}`, grantee_id: id, grantor_id: owner, privileges: 'U' }, user: 'pm_owner' });
    await as.owner.query('REVOKE USAGE ON CONNECTION pm_c FROM pm_audited');
    expect(await last()).toMatchObject({ event_type: 'revoke', object_type: 'connection' });
    await admin.query('REVOKE pm_group FROM pm_audited');
    await admin.query('DROP ROLE pm_audited');
    expect(await last()).toEqual({ event_type: 'drop', object_type: 'role', details: { id, name: 'pm_audited' }, user: 'materialize' });
  });
});
