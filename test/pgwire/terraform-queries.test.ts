/**
 * The Materialize Terraform provider's read queries for AWS connections and secrets, copied
 * unchanged from MaterializeInc/terraform-provider-materialize, with the WHERE clause its
 * BaseQuery.QueryPredicate appends (predicates `k = 'v'` sorted, joined with AND, then `;`),
 * run through node-postgres against iamlink.
 *
 * Sources:
 * - pkg/materialize/secret.go (secretQuery; SecretId, ScanSecret, ListSecrets)
 * - pkg/materialize/connection_aws.go at 0ffc8140 (connectionAwsQuery; ScanConnectionAws)
 * - pkg/materialize/connection.go at 0db3efcd (Connection.ReadId, Connection.Params,
 *   ReadConnectionDatasource)
 * - pkg/testhelpers/mock_scans.go (MockConnectionAwsScan, MockConnectionScan): the queries of the
 *   newer provider versions (region AS aws_region, external_id, mz_internal.mz_aws_connections
 *   qualified; the generic connectionQuery used to look a connection's id up by name), with
 *   sqlmock's regex escapes `\(` `\)` removed.
 * - pkg/materialize/base_query.go (QueryPredicate)
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JUMP_ROLE_ARN, startTestServer, type TestServer } from '../support/server.js';

/** BaseQuery.QueryPredicate: `k = 'v'` for each non-empty value, sorted, joined with AND; then `;`. */
function queryPredicate(statement: string, predicate: Record<string, string>): string {
  const quote = (v: string): string => `'${v.replace(/'/g, "''")}'`;
  const p = Object.entries(predicate)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k} = ${quote(v)}`)
    .sort();
  return `${statement}${p.length > 0 ? ` WHERE ${p.join(' AND ')}` : ''};`;
}

// pkg/materialize/secret.go, secretQuery.
const SECRET_QUERY = `
	SELECT
		mz_secrets.id,
		mz_secrets.name,
		mz_schemas.name AS schema_name,
		mz_databases.name AS database_name,
		comments.comment AS comment,
		mz_roles.name AS owner_name,
		mz_secrets.privileges
	FROM mz_secrets
	JOIN mz_schemas
		ON mz_secrets.schema_id = mz_schemas.id
	JOIN mz_databases
		ON mz_schemas.database_id = mz_databases.id
	JOIN mz_roles
		ON mz_secrets.owner_id = mz_roles.id
	LEFT JOIN (
		SELECT id, comment
		FROM mz_internal.mz_comments
		WHERE object_type = 'secret'
	) comments
		ON mz_secrets.id = comments.id`;

// pkg/materialize/connection_aws.go (0ffc8140), connectionAwsQuery.
const CONNECTION_AWS_QUERY = `
	SELECT
		mz_connections.id,
		mz_connections.name AS connection_name,
		mz_schemas.name AS schema_name,
		mz_databases.name AS database_name,
		mz_aws_connections.endpoint,
		mz_aws_connections.region,
		mz_aws_connections.access_key_id,
		mz_aws_connections.access_key_id_secret_id,
		mz_aws_connections.secret_access_key_secret_id,
		mz_aws_connections.session_token,
		mz_aws_connections.session_token_secret_id,
		mz_aws_connections.assume_role_arn,
		mz_aws_connections.assume_role_session_name,
		comments.comment AS comment,
		mz_aws_connections.principal,
		mz_roles.name AS owner_name
	FROM mz_connections
	JOIN mz_schemas
		ON mz_connections.schema_id = mz_schemas.id
	JOIN mz_databases
		ON mz_schemas.database_id = mz_databases.id
	LEFT JOIN mz_aws_connections
		ON mz_connections.id = mz_aws_connections.id
	JOIN mz_roles
		ON mz_connections.owner_id = mz_roles.id
	LEFT JOIN (
		SELECT id, comment
		FROM mz_internal.mz_comments
		WHERE object_type = 'connection'
	) comments
		ON mz_connections.id = comments.id`;

// pkg/testhelpers/mock_scans.go, MockConnectionAwsScan: the newer connectionAwsQuery.
const CONNECTION_AWS_QUERY_NEWER = `
	SELECT
		mz_connections.id,
		mz_connections.name AS connection_name,
		mz_schemas.name AS schema_name,
		mz_databases.name AS database_name,
		mz_aws_connections.endpoint,
		mz_aws_connections.region AS aws_region,
		mz_aws_connections.access_key_id,
		mz_aws_connections.access_key_id_secret_id,
		mz_aws_connections.secret_access_key_secret_id,
		mz_aws_connections.session_token,
		mz_aws_connections.session_token_secret_id,
		mz_aws_connections.assume_role_arn,
		mz_aws_connections.assume_role_session_name,
		comments.comment AS comment,
		mz_aws_connections.principal,
		mz_aws_connections.external_id,
		mz_roles.name AS owner_name
	FROM mz_connections
	JOIN mz_schemas
		ON mz_connections.schema_id = mz_schemas.id
	JOIN mz_databases
		ON mz_schemas.database_id = mz_databases.id
	LEFT JOIN mz_internal.mz_aws_connections AS mz_aws_connections
		ON mz_connections.id = mz_aws_connections.id
	JOIN mz_roles
		ON mz_connections.owner_id = mz_roles.id
	LEFT JOIN (
		SELECT id, comment
		FROM mz_internal.mz_comments
		WHERE object_type = 'connection'
	) comments
		ON mz_connections.id = comments.id`;

// pkg/testhelpers/mock_scans.go, MockConnectionScan: the generic connectionQuery (id by name).
const CONNECTION_QUERY = `
	SELECT
		mz_connections.id,
		mz_connections.name AS connection_name,
		mz_schemas.name AS schema_name,
		mz_databases.name AS database_name,
		mz_connections.type AS connection_type,
		comments.comment AS comment,
		mz_roles.name AS owner_name,
		mz_connections.privileges
	FROM mz_connections
	JOIN mz_schemas
		ON mz_connections.schema_id = mz_schemas.id
	JOIN mz_databases
		ON mz_schemas.database_id = mz_databases.id
	JOIN mz_roles
		ON mz_connections.owner_id = mz_roles.id
	LEFT JOIN (
		SELECT id, comment
		FROM mz_internal.mz_comments
		WHERE object_type = 'connection'
	) comments
		ON mz_connections.id = comments.id`;

/** pkg/materialize/connection.go (0db3efcd), Connection.ReadId. */
function connectionReadId(name: string, schema: string, database: string): string {
  return `
		SELECT mz_connections.id
		FROM mz_connections
		JOIN mz_schemas
			ON mz_connections.schema_id = mz_schemas.id
		JOIN mz_databases
			ON mz_schemas.database_id = mz_databases.id
		WHERE mz_connections.name = '${name}'
		AND mz_schemas.name = '${schema}'
		AND mz_databases.name = '${database}';
	`;
}

/** pkg/materialize/connection.go (0db3efcd), Connection.Params. */
function connectionParams(id: string): string {
  return `
		SELECT
			mz_connections.name,
			mz_schemas.name,
			mz_databases.name
		FROM mz_connections
		JOIN mz_schemas
			ON mz_connections.schema_id = mz_schemas.id
		JOIN mz_databases
			ON mz_schemas.database_id = mz_databases.id
		WHERE mz_connections.id = '${id}';
	`;
}

/** pkg/materialize/connection.go (0db3efcd), ReadConnectionDatasource. */
function readConnectionDatasource(database: string, schema: string): string {
  let q = `
		SELECT
			mz_connections.id,
			mz_connections.name,
			mz_schemas.name AS schema_name,
			mz_databases.name AS database_name,
			mz_connections.type
		FROM mz_connections
		JOIN mz_schemas
			ON mz_connections.schema_id = mz_schemas.id
		JOIN mz_databases
			ON mz_schemas.database_id = mz_databases.id`;
  if (database !== '') {
    q += `
		WHERE mz_databases.name = '${database}'`;
    if (schema !== '') q += ` AND mz_schemas.name = '${schema}'`;
  }
  return `${q};`;
}

const ROLE_ARN = 'arn:aws:iam::001234567890:role/TerraformCustomer';

describe("the Terraform provider's read queries", () => {
  let server: TestServer;
  let c: pg.Client;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    server = await startTestServer();
    c = await server.client();
    // What the provider's Create builders send (secret.go, connection_aws.go), names qualified and quoted.
    await c.query(`CREATE SECRET "materialize"."public"."tf_secret_key" AS 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';`);
    await c.query(`CREATE SECRET "materialize"."public"."tf_token" AS 'token-value';`);
    await c.query(
      `CREATE CONNECTION "materialize"."public"."tf_keys" TO AWS ( REGION = 'us-east-1', ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', ` +
        `SECRET ACCESS KEY = SECRET "materialize"."public"."tf_secret_key", SESSION TOKEN = SECRET "materialize"."public"."tf_token") WITH ( VALIDATE = false);`,
    );
    await c.query(
      `CREATE CONNECTION "materialize"."public"."tf_role" TO AWS ( ENDPOINT = 'https://sts.us-east-1.amazonaws.com', ` +
        `ASSUME ROLE ARN = '${ROLE_ARN}', ASSUME ROLE SESSION NAME = 's3-access-example') WITH ( VALIDATE = false);`,
    );
    // comment.go: COMMENT ON {type} {qualified name} IS '...'.
    await c.query(`COMMENT ON CONNECTION "materialize"."public"."tf_role" IS 'assumed by the importer';`);
    await c.query(`COMMENT ON SECRET "materialize"."public"."tf_secret_key" IS 'rotate yearly';`);
    const { rows } = await c.query('SELECT name, id FROM mz_objects WHERE schema_id = $1', ['u3']);
    for (const r of rows) ids[r.name] = r.id;
  });
  afterAll(async () => server.stop());

  const owner = 'materialize';

  it('secretQuery: SecretId (by name, schema, database), ScanSecret (by id) and ListSecrets', async () => {
    const byName = queryPredicate(SECRET_QUERY, { 'mz_secrets.name': 'tf_secret_key', 'mz_schemas.name': 'public', 'mz_databases.name': 'materialize' });
    expect(byName).toContain("WHERE mz_databases.name = 'materialize' AND mz_schemas.name = 'public' AND mz_secrets.name = 'tf_secret_key';");
    const { rows: found } = await c.query(byName);
    const privileges = (await c.query('SELECT privileges FROM mz_secrets WHERE id = $1', [ids.tf_secret_key])).rows[0].privileges;
    const row = { id: ids.tf_secret_key, name: 'tf_secret_key', schema_name: 'public', database_name: 'materialize', comment: 'rotate yearly', owner_name: owner, privileges };
    expect(found).toEqual([row]);
    expect((await c.query(queryPredicate(SECRET_QUERY, { 'mz_secrets.id': ids.tf_secret_key! }))).rows).toEqual([row]);
    const listed = await c.query(queryPredicate(SECRET_QUERY, { 'mz_schemas.name': 'public', 'mz_databases.name': 'materialize' }));
    expect(listed.rows.map((r) => [r.name, r.comment]).sort()).toEqual([
      ['tf_secret_key', 'rotate yearly'],
      ['tf_token', null],
    ]);
    expect((await c.query(queryPredicate(SECRET_QUERY, { 'mz_secrets.name': 'no_such_secret' }))).rows).toEqual([]);
  });

  it('connectionAwsQuery: ScanConnectionAws of a keys connection', async () => {
    const { rows } = await c.query(queryPredicate(CONNECTION_AWS_QUERY, { 'mz_connections.id': ids.tf_keys! }));
    expect(rows).toEqual([
      {
        id: ids.tf_keys,
        connection_name: 'tf_keys',
        schema_name: 'public',
        database_name: 'materialize',
        endpoint: null,
        region: 'us-east-1',
        access_key_id: 'AKIAIOSFODNN7EXAMPLE',
        access_key_id_secret_id: null,
        secret_access_key_secret_id: ids.tf_secret_key,
        session_token: null,
        session_token_secret_id: ids.tf_token,
        assume_role_arn: null,
        assume_role_session_name: null,
        comment: null,
        principal: null,
        owner_name: owner,
      },
    ]);
  });

  it('connectionAwsQuery: ScanConnectionAws of an assume-role connection, with its comment', async () => {
    const { rows } = await c.query(queryPredicate(CONNECTION_AWS_QUERY, { 'mz_connections.id': ids.tf_role! }));
    expect(rows).toEqual([
      {
        id: ids.tf_role,
        connection_name: 'tf_role',
        schema_name: 'public',
        database_name: 'materialize',
        endpoint: 'https://sts.us-east-1.amazonaws.com',
        region: null,
        access_key_id: null,
        access_key_id_secret_id: null,
        secret_access_key_secret_id: null,
        session_token: null,
        session_token_secret_id: null,
        assume_role_arn: ROLE_ARN,
        assume_role_session_name: 's3-access-example',
        comment: 'assumed by the importer',
        principal: JUMP_ROLE_ARN,
        owner_name: owner,
      },
    ]);
  });

  it("the newer connectionAwsQuery: aws_region and external_id, mz_internal qualified", async () => {
    const role = await c.query(queryPredicate(CONNECTION_AWS_QUERY_NEWER, { 'mz_connections.id': ids.tf_role! }));
    expect(role.rows).toEqual([
      expect.objectContaining({
        connection_name: 'tf_role',
        aws_region: null,
        assume_role_arn: ROLE_ARN,
        principal: JUMP_ROLE_ARN,
        external_id: `mz_test-prefix_${ids.tf_role}`,
        comment: 'assumed by the importer',
        owner_name: owner,
      }),
    ]);
    const keys = await c.query(queryPredicate(CONNECTION_AWS_QUERY_NEWER, { 'mz_connections.id': ids.tf_keys! }));
    expect(keys.rows).toEqual([expect.objectContaining({ connection_name: 'tf_keys', aws_region: 'us-east-1', external_id: null, principal: null, secret_access_key_secret_id: ids.tf_secret_key })]);
  });

  it('connectionQuery: a connection id by name, schema and database, with type, comment, owner and privileges', async () => {
    const q = queryPredicate(CONNECTION_QUERY, { 'mz_connections.name': 'tf_role', 'mz_schemas.name': 'public', 'mz_databases.name': 'materialize' });
    expect(q).toContain("WHERE mz_connections.name = 'tf_role' AND mz_databases.name = 'materialize' AND mz_schemas.name = 'public';");
    const privileges = (await c.query('SELECT privileges FROM mz_connections WHERE id = $1', [ids.tf_role])).rows[0].privileges;
    expect((await c.query(q)).rows).toEqual([
      {
        id: ids.tf_role,
        connection_name: 'tf_role',
        schema_name: 'public',
        database_name: 'materialize',
        connection_type: 'aws',
        comment: 'assumed by the importer',
        owner_name: owner,
        privileges,
      },
    ]);
  });

  it("connection.go: ReadId, Params and the data source's list", async () => {
    expect((await c.query(connectionReadId('tf_keys', 'public', 'materialize'))).rows).toEqual([{ id: ids.tf_keys }]);
    // Params selects three columns all named "name": ask for arrays to see them all.
    const params = await c.query({ text: connectionParams(ids.tf_role!), rowMode: 'array' });
    expect(params.rows).toEqual([['tf_role', 'public', 'materialize']]);
    const all = await c.query(readConnectionDatasource('materialize', 'public'));
    expect(all.rows.sort((a, b) => (a.name < b.name ? -1 : 1))).toEqual([
      { id: ids.tf_keys, name: 'tf_keys', schema_name: 'public', database_name: 'materialize', type: 'aws' },
      { id: ids.tf_role, name: 'tf_role', schema_name: 'public', database_name: 'materialize', type: 'aws' },
    ]);
    expect((await c.query(readConnectionDatasource('', ''))).rows).toHaveLength(2);
  });

  it('see a comment removed with IS NULL, and nothing of a dropped connection', async () => {
    await c.query(`COMMENT ON CONNECTION "materialize"."public"."tf_role" IS NULL;`);
    expect((await c.query(queryPredicate(CONNECTION_AWS_QUERY, { 'mz_connections.id': ids.tf_role! }))).rows[0].comment).toBeNull();
    await c.query(`DROP CONNECTION "materialize"."public"."tf_keys";`);
    expect((await c.query(queryPredicate(CONNECTION_AWS_QUERY, { 'mz_connections.id': ids.tf_keys! }))).rows).toEqual([]);
  });
});
