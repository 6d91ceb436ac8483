/**
 * The system views and SHOW commands, the same on every store: their columns, what a key
 * connection and an assume-role connection look like in them, dependencies, SHOW CREATE.
 */
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorOf, JUMP_ROLE_ARN, STORES, useTestServer } from '../support/server.js';

const ROLE_ARN = 'arn:aws:iam::001234567890:role/Customer';
const JSONB_OID = 3802;

const columnsOf = async (c: pg.Client, relation: string): Promise<string[]> => (await c.query(`SELECT * FROM ${relation} LIMIT 0`)).fields.map((f) => f.name);

describe.each(STORES)('system views (%s store)', (store) => {
  const server = useTestServer([], store);
  /** name → id of the objects made in beforeAll. */
  let id: Record<string, string>;

  beforeAll(async () => {
    const c = await server().client();
    await c.query("CREATE SECRET sv_secret AS 'sv-value'");
    await c.query("CREATE CONNECTION sv_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET sv_secret, REGION = 'us-east-1')");
    await c.query(`CREATE CONNECTION sv_role TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}', ASSUME ROLE SESSION NAME = 'sv-session')`);
    // The same secret in two options is one dependency.
    await c.query('CREATE CONNECTION sv_twice TO AWS (ACCESS KEY ID = SECRET sv_secret, SECRET ACCESS KEY = SECRET sv_secret)');
    const { rows } = await c.query("SELECT name, id FROM mz_objects WHERE name LIKE 'sv\\_%'");
    id = Object.fromEntries(rows.map((r: { name: string; id: string }) => [r.name, r.id]));
  });

  it('mz_connections lists each connection with its create_sql', async () => {
    const c = await server().client();
    expect(await columnsOf(c, 'mz_catalog.mz_connections')).toEqual(['id', 'oid', 'schema_id', 'name', 'type', 'owner_id', 'privileges', 'create_sql', 'redacted_create_sql']);
    const { rows } = await c.query("SELECT id, name, type, create_sql, redacted_create_sql FROM mz_connections WHERE name = 'sv_keys'");
    expect(rows).toEqual([
      {
        id: id.sv_keys,
        name: 'sv_keys',
        type: 'aws',
        create_sql: `CREATE CONNECTION "materialize"."public"."sv_keys" TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', SECRET ACCESS KEY = SECRET [${id.sv_secret} AS "materialize"."public"."sv_secret"])`,
        redacted_create_sql: `CREATE CONNECTION materialize.public.sv_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', SECRET ACCESS KEY = SECRET [${id.sv_secret} AS materialize.public.sv_secret])`,
      },
    ]);
    // Unqualified names resolve in mz_catalog, as in Materialize.
    expect((await c.query("SELECT count(*)::int AS n FROM mz_connections WHERE name LIKE 'sv\\_%'")).rows).toEqual([{ n: 3 }]);
  });

  it('mz_secrets has no value column', async () => {
    const c = await server().client();
    expect(await columnsOf(c, 'mz_catalog.mz_secrets')).toEqual(['id', 'oid', 'schema_id', 'name', 'owner_id', 'privileges']);
    expect(await errorOf(c.query('SELECT value FROM mz_secrets'))).toMatchObject({ code: '42703', message: 'column "value" does not exist' });
    expect((await c.query("SELECT id, name FROM mz_secrets WHERE name LIKE 'sv\\_%'")).rows).toEqual([{ id: id.sv_secret, name: 'sv_secret' }]);
  });

  it('mz_aws_connections shows the principal, the external id and the trust policy of an assume-role connection', async () => {
    const c = await server().client();
    const { rows, fields } = await c.query('SELECT * FROM mz_internal.mz_aws_connections WHERE id = $1', [id.sv_role]);
    expect(fields.find((f) => f.name === 'example_trust_policy')?.dataTypeID).toBe(JSONB_OID);
    const externalId = `mz_test-prefix_${id.sv_role}`;
    expect(rows).toEqual([
      {
        id: id.sv_role,
        endpoint: null,
        region: null,
        access_key_id: null,
        access_key_id_secret_id: null,
        secret_access_key_secret_id: null,
        session_token: null,
        session_token_secret_id: null,
        assume_role_arn: ROLE_ARN,
        assume_role_session_name: 'sv-session',
        principal: JUMP_ROLE_ARN,
        external_id: externalId,
        example_trust_policy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'sts:AssumeRole',
              Principal: { AWS: JUMP_ROLE_ARN },
              Condition: { StringEquals: { 'sts:ExternalId': externalId } },
            },
          ],
        },
      },
    ]);
    // The policy is jsonb in the engine too: its fields can be queried.
    const q = "SELECT example_trust_policy->'Statement'->0->'Condition'->'StringEquals'->>'sts:ExternalId' AS x FROM mz_internal.mz_aws_connections WHERE id = $1";
    expect((await c.query(q, [id.sv_role])).rows).toEqual([{ x: externalId }]);
  });

  it('mz_aws_connections shows a key connection with its secrets by id, and no external id', async () => {
    const c = await server().client();
    const { rows } = await c.query('SELECT * FROM mz_internal.mz_aws_connections WHERE id = ANY($1) ORDER BY id', [[id.sv_keys, id.sv_twice]]);
    expect(rows).toEqual([
      {
        id: id.sv_keys,
        endpoint: null,
        region: 'us-east-1',
        access_key_id: 'AKIAIOSFODNN7EXAMPLE',
        access_key_id_secret_id: null,
        secret_access_key_secret_id: id.sv_secret,
        session_token: null,
        session_token_secret_id: null,
        assume_role_arn: null,
        assume_role_session_name: null,
        principal: null,
        external_id: null,
        example_trust_policy: null,
      },
      {
        id: id.sv_twice,
        endpoint: null,
        region: null,
        access_key_id: null,
        access_key_id_secret_id: id.sv_secret,
        secret_access_key_secret_id: id.sv_secret,
        session_token: null,
        session_token_secret_id: null,
        assume_role_arn: null,
        assume_role_session_name: null,
        principal: null,
        external_id: null,
        example_trust_policy: null,
      },
    ]);
  });

  it('mz_object_dependencies has one row per connection and secret it uses', async () => {
    const c = await server().client();
    const { rows } = await c.query('SELECT object_id, referenced_object_id FROM mz_internal.mz_object_dependencies WHERE object_id = ANY($1) ORDER BY 1, 2', [
      Object.values(id),
    ]);
    expect(rows).toEqual(
      [
        { object_id: id.sv_keys, referenced_object_id: id.sv_secret },
        { object_id: id.sv_twice, referenced_object_id: id.sv_secret },
      ].sort((x, y) => String(x.object_id).localeCompare(String(y.object_id))),
    );
  });

  it('SHOW CONNECTIONS and SHOW SECRETS list names, types and comments, with LIKE and WHERE', async () => {
    const c = await server().client();
    expect((await c.query("SHOW CONNECTIONS LIKE 'sv\\_%'")).rows).toEqual([
      { name: 'sv_keys', type: 'aws', comment: '' },
      { name: 'sv_role', type: 'aws', comment: '' },
      { name: 'sv_twice', type: 'aws', comment: '' },
    ]);
    expect((await c.query("SHOW SECRETS LIKE 'sv\\_%'")).rows).toEqual([{ name: 'sv_secret', comment: '' }]);
    await c.query("COMMENT ON CONNECTION sv_role IS 'the customer role'");
    expect((await c.query("SHOW CONNECTIONS WHERE name = 'sv_role'")).rows).toEqual([{ name: 'sv_role', type: 'aws', comment: 'the customer role' }]);
    await c.query('COMMENT ON CONNECTION sv_role IS NULL');
    expect((await c.query("SHOW CONNECTIONS WHERE name = 'sv_role'")).rows).toEqual([{ name: 'sv_role', type: 'aws', comment: '' }]);
    expect((await c.query('SHOW SECRETS FROM public')).rows).toContainEqual({ name: 'sv_secret', comment: '' });
  });

  it('SHOW CREATE CONNECTION prints a statement that names secrets, never their values', async () => {
    const c = await server().client();
    expect((await c.query('SHOW CREATE CONNECTION sv_keys')).rows).toEqual([
      {
        name: 'materialize.public.sv_keys',
        create_sql: "CREATE CONNECTION materialize.public.sv_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', SECRET ACCESS KEY = SECRET materialize.public.sv_secret);",
      },
    ]);
    expect((await c.query('SHOW CREATE CONNECTION sv_role')).rows).toEqual([
      {
        name: 'materialize.public.sv_role',
        create_sql: `CREATE CONNECTION materialize.public.sv_role TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}', ASSUME ROLE SESSION NAME = 'sv-session');`,
      },
    ]);
    expect(await errorOf(c.query('SHOW CREATE CONNECTION sv_missing'))).toMatchObject({ code: '42704' });
    expect(await errorOf(c.query('SHOW CREATE CONNECTION sv_secret'))).toMatchObject({ code: '42809' });
  });
});
