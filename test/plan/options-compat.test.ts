/** Materialize's option syntax and check order (issue 8, items 2 and 3), through a real server. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import { PgliteStore } from '../../src/catalog/pglite-store.js';
import { loadSecretsKey, SecretCipher } from '../../src/secrets/cipher.js';
import { catalogSnapshot, errorOf, startTestServer, useTestServer } from '../support/server.js';

const ARN = 'arn:aws:iam::001234567890:role/Customer';

describe('option values and forms Materialize accepts', () => {
  const server = useTestServer();

  it('takes identifiers where strings go: quoted ones keep their case, bare ones are lower-cased', async () => {
    const c = await server().client();
    await c.query(`CREATE CONNECTION ident_q TO AWS (ASSUME ROLE ARN "${ARN}", REGION "us-east-1", ASSUME ROLE SESSION NAME "Sess-1")`);
    const { rows } = await c.query("SELECT assume_role_arn, region, assume_role_session_name FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name = 'ident_q'");
    expect(rows).toEqual([{ assume_role_arn: ARN, region: 'us-east-1', assume_role_session_name: 'Sess-1' }]);
    // A bare identifier is a value too; iamlink's region check (stricter than Materialize's) then explains.
    const err = await errorOf(c.query(`CREATE CONNECTION ident_b TO AWS (ASSUME ROLE ARN = '${ARN}', REGION = US_EAST_1)`));
    expect(err).toMatchObject({ code: '22023', message: 'invalid REGION: not an AWS region name' });
    expect(err.hint).toContain('us-east-1');
    await c.query(`ALTER CONNECTION ident_q SET (REGION = "eu-west-1")`);
    expect((await c.query("SELECT region FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name = 'ident_q'")).rows).toEqual([{ region: 'eu-west-1' }]);
  });

  it('parses the older CREATE CONNECTION ... FOR AWS form without parentheses, like TO AWS (...)', async () => {
    const c = await server().client();
    await c.query("CREATE SECRET for_key AS 'k'");
    await c.query("CREATE CONNECTION for_keys FOR AWS ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET for_key, REGION = 'us-east-1'");
    await c.query(`CREATE CONNECTION for_role FOR AWS ASSUME ROLE ARN = '${ARN}' WITH (VALIDATE = false)`);
    await c.query(`CREATE CONNECTION to_role TO AWS (ASSUME ROLE ARN = '${ARN}')`);
    const { rows } = await c.query("SELECT name, redacted_create_sql FROM mz_connections WHERE name IN ('for_role', 'to_role') ORDER BY name");
    expect(rows[0].redacted_create_sql.replace('for_role', 'X')).toBe(rows[1].redacted_create_sql.replace('to_role', 'X'));
    expect((await c.query("SELECT access_key_id, region FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name = 'for_keys'")).rows).toEqual([
      { access_key_id: 'AKIAIOSFODNN7EXAMPLE', region: 'us-east-1' },
    ]);
  });
});

describe('checks in the order Materialize makes them', () => {
  const server = useTestServer();

  it('names what is really wrong, and changes nothing', async () => {
    const c = await server().client();
    await c.query("CREATE SECRET order_s AS 'x'");
    await c.query(`CREATE CONNECTION r TO AWS (ASSUME ROLE ARN = '${ARN}', ASSUME ROLE SESSION NAME = 'sess')`);
    const before = await catalogSnapshot(c);
    const cases: [string, string][] = [
      // The ARN is dropped, the keys are whole: what is left wrong is the session name alone.
      ["ALTER CONNECTION r DROP (ASSUME ROLE ARN), SET (ACCESS KEY ID = 'a'), SET (SECRET ACCESS KEY = SECRET order_s)", 'invalid ALTER CONNECTION: must specify ASSUME ROLE ARN with optional ASSUME ROLE SESSION NAME'],
      ["CREATE CONNECTION x TO AWS (ACCESS KEY ID = 'a', ASSUME ROLE SESSION NAME 's')", 'must specify both ACCESS KEY ID and SECRET ACCESS KEY with optional SESSION TOKEN'],
      ["ALTER CONNECTION r SET (REGION = 'us-east-1'), RESET (REGION)", 'cannot both SET and DROP/RESET options REGION'],
      ["CREATE CONNECTION x TO AWS (ASSUME ROLE ARN = 'a', BROKER = 'b', PORT = 1)", 'AWS connections do not support BROKER, PORT values'],
    ];
    for (const [sql, message] of cases) expect((await errorOf(c.query(sql))).message, sql).toBe(message);
    expect(await catalogSnapshot(c)).toEqual(before);
    // The same ALTER that also drops the session name is whole: keys only.
    await c.query('ALTER CONNECTION r DROP (ASSUME ROLE ARN), DROP (ASSUME ROLE SESSION NAME), SET (ACCESS KEY ID = \'a\'), SET (SECRET ACCESS KEY = SECRET order_s)');
    expect((await c.query("SELECT access_key_id, assume_role_arn FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name = 'r'")).rows).toEqual([{ access_key_id: 'a', assume_role_arn: null }]);
  });
});

describe('secret values', () => {
  const server = useTestServer();

  it("are at most 512 KiB, never NULL, and a refusal echoes neither the value nor changes anything", async () => {
    const c = await server().client();
    const before = await catalogSnapshot(c);
    const big = 'k'.repeat(512 * 1024 + 1);
    const tooBig = await errorOf(c.query(`CREATE SECRET big AS '${big}'`));
    expect(tooBig).toMatchObject({ code: '54000', message: 'secret value is 524289 bytes; the limit is 524288 bytes (512 KiB)' });
    expect(`${tooBig.message}${tooBig.detail ?? ''}${tooBig.hint ?? ''}`).not.toContain('kkkk');
    expect(await errorOf(c.query('CREATE SECRET nothing AS NULL'))).toMatchObject({ code: '22004', message: 'secret value must not be NULL' });
    await c.query("CREATE SECRET fits AS 'x'");
    expect(await errorOf(c.query(`ALTER SECRET fits AS '${big}'`))).toMatchObject({ code: '54000' });
    expect(await errorOf(c.query('ALTER SECRET fits AS NULL'))).toMatchObject({ code: '22004' });
    await c.query(`ALTER SECRET fits AS '${big.slice(1)}'`); // exactly 512 KiB
    await c.query('DROP SECRET fits');
    expect(await catalogSnapshot(c)).toEqual(before);
  });
});

describe('secret values as bind parameters', () => {
  it('CREATE and ALTER SECRET take $1: the value is stored and decrypts, and never reaches SQL text or the log', async () => {
    const server = await startTestServer();
    const c = await server.client();
    const first = 'param-canary-1f9e';
    const second = "param-canary-'quoted'-é-2c7d";
    await c.query('CREATE SECRET by_param AS $1', [first]);
    await c.query('ALTER SECRET by_param AS $1', [second]);
    expect(await errorOf(c.query('CREATE SECRET no_value AS $1'))).toMatchObject({ code: '42P02', message: 'there is no parameter $1' });
    expect(await errorOf(c.query('CREATE SECRET null_value AS $1', [null]))).toMatchObject({ code: '22004' });
    expect(await errorOf(c.query('CREATE SECRET two AS $2', ['a']))).toMatchObject({ code: '08P01' });
    const log = await server.logText();
    expect(log).toContain('CREATE SECRET by_param AS $1');
    expect(log).not.toContain('param-canary');
    const dataDir = server.dataDir;
    await server.close();
    const store = await PgliteStore.open(join(dataDir, 'catalog'));
    try {
      const catalog = new Catalog(new SecretCipher(await loadSecretsKey(join(dataDir, 'secrets.key'), false)));
      const [row] = await store.query<{ id: string }>("SELECT id FROM iamlink_internal.items WHERE name = 'by_param'");
      expect((await store.transaction((tx) => catalog.readSecret(tx, row!.id)))?.reveal()).toBe(second);
    } finally {
      await store.close();
    }
  });
});

describe('secret values as expressions', () => {
  it("take Materialize's bytea expressions, evaluated as the client through the gate; the log sees none of them", async () => {
    const server = await startTestServer();
    const c = await server.client();
    await c.query("CREATE SECRET from_base64 AS decode('c2VjcmV0Cg==', 'base64')");
    await c.query("CREATE SECRET joined AS 'expr-' || 'canary-77'");
    await c.query("ALTER SECRET joined AS convert_to('expr-canary-88', 'UTF8')");
    const refused: [string, string][] = [
      ['CREATE SECRET rel AS (SELECT name FROM mz_secrets LIMIT 1)', '0A000'],
      ["CREATE SECRET esc AS pg_catalog.set_config('role', 'postgres', false)", '42501'],
      ["CREATE SECRET bin AS '\\xff'::bytea", '22021'],
      ["CREATE SECRET bad AS decode('!!', 'base64')", '22023'],
      ["CREATE SECRET nul AS NULL::bytea", '22004'],
    ];
    for (const [sql, code] of refused) expect((await errorOf(c.query(sql))).code, sql).toBe(code);
    expect((await c.query("SELECT count(*)::int AS n FROM mz_secrets WHERE name IN ('rel', 'esc', 'bin', 'bad', 'nul')")).rows).toEqual([{ n: 0 }]);
    const log = await server.logText();
    expect(log).not.toContain('c2VjcmV0Cg');
    expect(log).not.toContain('canary-77');
    expect(log).not.toContain('canary-88');
    const dataDir = server.dataDir;
    await server.close();
    const store = await PgliteStore.open(join(dataDir, 'catalog'));
    try {
      const catalog = new Catalog(new SecretCipher(await loadSecretsKey(join(dataDir, 'secrets.key'), false)));
      const value = async (name: string): Promise<string | undefined> => {
        const [row] = await store.query<{ id: string }>('SELECT id FROM iamlink_internal.items WHERE name = $1', [name]);
        return (await store.transaction((tx) => catalog.readSecret(tx, row!.id)))?.reveal();
      };
      expect(await value('from_base64')).toBe('secret\n');
      expect(await value('joined')).toBe('expr-canary-88');
    } finally {
      await store.close();
    }
  });
});

describe('a secret value that is no expression', () => {
  const server = useTestServer();

  it('is a 42601 at the word that breaks it, and echoes no literal', async () => {
    const c = await server().client();
    const sql = "CREATE SECRET s AS 'value-canary-3e1' extra";
    const err = await errorOf(c.query(sql));
    expect(err).toMatchObject({ code: '42601', message: 'syntax error at or near identifier "extra"' });
    expect(Number(err.position)).toBe(sql.indexOf('extra') + 1);
    expect(`${err.message}${err.detail ?? ''}${err.hint ?? ''}`).not.toContain('value-canary');
  });
});
