/**
 * Issue 9 (1): DDL acknowledged on one node is visible on another node at its very next
 * statement — no sleep, no reconnect — for every kind of catalog change.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildServer } from '../support/child-server.js';
import { errorOf, freshSharedCatalog } from '../support/server.js';
import { StsEmulator } from '../emulators/sts/emulator.js';
import { catalogInconsistencies, Fleet, rows } from './nodes.js';

const ROLE = 'arn:aws:iam::001234567890:role/Customer';

describe('multi-node: DDL on one node is visible on the others at once', () => {
  const fleet = new Fleet();
  const sts = new StsEmulator();
  let shared: Awaited<ReturnType<typeof freshSharedCatalog>>;
  let nodeA: ChildServer;
  let nodeB: ChildServer;
  let a: pg.Client;
  let b: pg.Client;
  /** A second, long-lived session on B that has already run reads (and a prepared statement) before any change. */
  let b2: pg.Client;

  beforeAll(async () => {
    shared = await freshSharedCatalog();
    // STS for VALIDATE: the project's emulator (12-digit access key ids are that account's root, secret 'test').
    await sts.start();
    const env = { AWS_ENDPOINT_URL: sts.url, AWS_REGION: 'us-east-1' };
    [nodeA, nodeB] = await Promise.all([fleet.start(shared.url, shared.keyFile, [], env), fleet.start(shared.url, shared.keyFile, [], env)]);
    [a, b, b2] = await Promise.all([fleet.connect(nodeA), fleet.connect(nodeB), fleet.connect(nodeB)]);
    // Warm B's sessions: reads and a named prepared statement before anything exists.
    expect(await rows(b, 'SELECT name FROM mz_connections')).toEqual([]);
    expect((await b2.query({ name: 'by_name', text: 'SELECT id, name FROM mz_objects WHERE name = $1', values: ['s1'] })).rows).toEqual([]);
  });

  afterAll(async () => {
    await fleet.stopAll();
    await shared?.drop();
    await sts.stop();
  });

  const byName = async (c: pg.Client, name: string) => (await c.query({ name: 'by_name', text: 'SELECT id, name FROM mz_objects WHERE name = $1', values: [name] })).rows;

  it('CREATE SECRET on A is visible on B', async () => {
    await a.query("CREATE SECRET s1 AS 'first'");
    expect(await rows(b, "SELECT name FROM mz_secrets WHERE name = 's1'")).toEqual([{ name: 's1' }]);
    const [onA] = await rows<{ id: string }>(a, "SELECT id FROM mz_secrets WHERE name = 's1'");
    expect(await byName(b2, 's1')).toEqual([{ id: onA!.id, name: 's1' }]);
    expect((await b.query('SHOW SECRETS')).rows.map((r) => r.name)).toEqual(['s1']);
  });

  it('CREATE CONNECTION on A (using the secret) is visible on B, with its dependency', async () => {
    await a.query("CREATE CONNECTION keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET s1, REGION = 'us-east-1')");
    await a.query(`CREATE CONNECTION role_conn TO AWS (ASSUME ROLE ARN = '${ROLE}')`);
    const onA = await rows(a, 'SELECT c.id, c.name, c.create_sql, aws.* FROM mz_connections c JOIN mz_internal.mz_aws_connections aws USING (id) ORDER BY c.name');
    const onB = await rows(b, 'SELECT c.id, c.name, c.create_sql, aws.* FROM mz_connections c JOIN mz_internal.mz_aws_connections aws USING (id) ORDER BY c.name');
    expect(onA.map((r) => r.name)).toEqual(['keys', 'role_conn']);
    expect(onB).toEqual(onA);
    expect(onB[1]!.external_id).toBe(`mz_test-prefix_${onB[1]!.id}`);
    const deps = await rows(b, "SELECT d.referenced_object_id FROM mz_internal.mz_object_dependencies d JOIN mz_connections c ON c.id = d.object_id WHERE c.name = 'keys'");
    const [secret] = await rows<{ id: string }>(b, "SELECT id FROM mz_secrets WHERE name = 's1'");
    expect(deps).toEqual([{ referenced_object_id: secret!.id }]);
    // B plans against what A wrote: the secret is in use there too.
    const refused = await errorOf(b.query('DROP SECRET s1'));
    expect(refused.code).toBe('2BP01');
    expect(refused.message).toMatch(/keys/);
    expect(await catalogInconsistencies(b)).toEqual([]);
  });

  it('ALTER CONNECTION on A is visible on B (definition, create_sql, SHOW CREATE)', async () => {
    await a.query("ALTER CONNECTION role_conn SET (REGION = 'eu-west-1')");
    expect(await rows(b, "SELECT region FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name = 'role_conn'")).toEqual([{ region: 'eu-west-1' }]);
    const show = (await b.query('SHOW CREATE CONNECTION role_conn')).rows[0];
    expect(JSON.stringify(show)).toContain("REGION = 'eu-west-1'");
    await a.query('ALTER CONNECTION role_conn RESET (REGION)');
    expect(await rows(b, "SELECT region FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name = 'role_conn'")).toEqual([{ region: null }]);
    expect(JSON.stringify((await b.query('SHOW CREATE CONNECTION role_conn')).rows[0])).not.toContain('REGION');
  });

  it('ALTER SECRET on A takes effect for B: B validates with the new value at its next VALIDATE', async () => {
    // A static-key connection whose secret access key is the secret: B's VALIDATE signs with the value it reads.
    await a.query("CREATE SECRET sts_key AS 'wrong'");
    await a.query("CREATE CONNECTION sts_conn TO AWS (ACCESS KEY ID = '222222222222', SECRET ACCESS KEY = SECRET sts_key, REGION = 'us-east-1')");
    const refused = await errorOf(b.query('VALIDATE CONNECTION sts_conn'));
    expect(refused.code).toBe('58000');
    expect(`${refused.message} ${refused.detail}`).toMatch(/SignatureDoesNotMatch|signature/i);
    await a.query("ALTER SECRET sts_key AS 'test'");
    await b.query('VALIDATE CONNECTION sts_conn');
    // And back: B does not keep the value it used last.
    await a.query("ALTER SECRET sts_key AS 'wrong-again'");
    expect((await errorOf(b.query('VALIDATE CONNECTION sts_conn'))).code).toBe('58000');
    await a.query('DROP CONNECTION sts_conn');
    await a.query('DROP SECRET sts_key');
  });

  it('RENAME on A is visible on B, old name gone there', async () => {
    const [before] = await rows<{ id: string }>(a, "SELECT id FROM mz_connections WHERE name = 'role_conn'");
    await a.query('ALTER CONNECTION role_conn RENAME TO renamed_conn');
    expect(await rows(b, "SELECT id, name FROM mz_connections WHERE name IN ('role_conn', 'renamed_conn')")).toEqual([{ id: before!.id, name: 'renamed_conn' }]);
    expect((await errorOf(b.query('SHOW CREATE CONNECTION role_conn'))).code).toBe('42704');
    expect(await byName(b2, 'role_conn')).toEqual([]);
    expect(await byName(b2, 'renamed_conn')).toEqual([{ id: before!.id, name: 'renamed_conn' }]);
    await a.query('ALTER SECRET s1 RENAME TO s1_renamed');
    expect(await rows(b, 'SELECT name FROM mz_secrets ORDER BY name')).toEqual([{ name: 's1_renamed' }]);
    // B's SHOW CREATE renders the secret reference with its new name.
    expect(JSON.stringify((await b.query('SHOW CREATE CONNECTION keys')).rows[0])).toContain('s1_renamed');
  });

  it('COMMENT ON on A is visible on B, and removing it too', async () => {
    await a.query("COMMENT ON CONNECTION renamed_conn IS 'owned by team x'");
    await a.query("COMMENT ON SECRET s1_renamed IS 'rotated monthly'");
    expect(await rows(b, 'SELECT o.name, cm.comment FROM mz_internal.mz_comments cm JOIN mz_objects o USING (id) ORDER BY 1')).toEqual([
      { name: 'renamed_conn', comment: 'owned by team x' },
      { name: 's1_renamed', comment: 'rotated monthly' },
    ]);
    expect((await b.query("SHOW CONNECTIONS LIKE 'renamed%'")).rows).toEqual([expect.objectContaining({ name: 'renamed_conn', comment: 'owned by team x' })]);
    await a.query('COMMENT ON CONNECTION renamed_conn IS NULL');
    expect(await rows(b, 'SELECT o.name FROM mz_internal.mz_comments cm JOIN mz_objects o USING (id)')).toEqual([{ name: 's1_renamed' }]);
  });

  it('DROP on A is visible on B; B may then reuse the name (with a new id)', async () => {
    const [old] = await rows<{ id: string }>(a, "SELECT id FROM mz_connections WHERE name = 'keys'");
    await a.query('DROP CONNECTION keys');
    expect(await rows(b, "SELECT name FROM mz_connections WHERE name = 'keys'")).toEqual([]);
    expect(await byName(b2, 'keys')).toEqual([]);
    // The dependency went with it: B may now drop the secret.
    await b.query('DROP SECRET s1_renamed');
    expect(await rows(a, 'SELECT name FROM mz_secrets')).toEqual([]);
    expect(await rows(a, 'SELECT * FROM mz_internal.mz_comments')).toEqual([]);
    await b.query(`CREATE CONNECTION keys TO AWS (ASSUME ROLE ARN = '${ROLE}')`);
    const [fresh] = await rows<{ id: string }>(a, "SELECT id FROM mz_connections WHERE name = 'keys'");
    expect(fresh!.id).not.toBe(old!.id);
  });

  it('DROP on A, then VALIDATE CONNECTION on B: 42704', async () => {
    await a.query('DROP CONNECTION renamed_conn');
    const err = await errorOf(b.query('VALIDATE CONNECTION renamed_conn'));
    expect(err.code).toBe('42704');
    expect(err.message).toMatch(/renamed_conn/);
  });

  it('a transaction committed on B is visible on A at once, all of it', async () => {
    await b.query('BEGIN');
    await b.query("CREATE SECRET tx_secret AS 'v'");
    await b.query("CREATE CONNECTION tx_conn TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET tx_secret)");
    // Uncommitted: A sees neither.
    expect(await rows(a, "SELECT name FROM mz_objects WHERE name LIKE 'tx_%'")).toEqual([]);
    await b.query('COMMIT');
    expect(await rows(a, "SELECT name FROM mz_objects WHERE name LIKE 'tx_%' ORDER BY 1")).toEqual([{ name: 'tx_conn' }, { name: 'tx_secret' }]);
    expect(await catalogInconsistencies(a)).toEqual([]);
  });
});
