/**
 * Issue 9 (3): nodes starting together on an empty database migrate it once and agree on the
 * catalog's identity; later nodes must match the catalog's settings and secrets key.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runChildExpectingExit, type ChildServer } from '../support/child-server.js';
import { connectTo, emptyDatabase, Fleet, nodeArgs, rows, tempKeyFile } from './nodes.js';

const ROLE = 'arn:aws:iam::001234567890:role/Customer';
const MIGRATIONS = fileURLToPath(new URL('../../migrations/', import.meta.url));

describe('multi-node: start-up on one shared catalog', () => {
  const fleet = new Fleet();
  let db: Awaited<ReturnType<typeof emptyDatabase>>;
  let key: Awaited<ReturnType<typeof tempKeyFile>>;
  let otherKey: Awaited<ReturnType<typeof tempKeyFile>>;
  let nodes: ChildServer[] = [];
  let admin: pg.Client;
  /** What the catalog database itself says its identity is. */
  let stored: { environment_id: string; aws_external_id_prefix: string };

  beforeAll(async () => {
    db = await emptyDatabase(inject('postgresUrl'));
    key = await tempKeyFile();
    otherKey = await tempKeyFile();
    admin = await connectTo(db.url);
  });

  afterAll(async () => {
    await admin?.end().catch(() => undefined);
    await fleet.stopAll();
    await db?.drop();
    await key?.remove();
    await otherKey?.remove();
  });

  it('three nodes started at once on an empty database all start, and each migration is applied exactly once', async () => {
    const started = await Promise.allSettled([0, 1, 2].map(() => fleet.start(db.url, key.path)));
    const failures = started.flatMap((s) => (s.status === 'rejected' ? [String((s.reason as Error).message)] : []));
    expect(failures).toEqual([]);
    nodes = started.map((s) => (s as PromiseFulfilledResult<ChildServer>).value);
    const files = (await readdir(MIGRATIONS)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
    expect(files.length).toBeGreaterThan(0);
    const applied = await rows<{ version: number; name: string; n: number }>(
      admin,
      'SELECT version, min(name) AS name, count(*)::int AS n FROM iamlink_internal.migrations GROUP BY version ORDER BY version',
    );
    expect(applied).toEqual(files.map((name) => ({ version: Number(name.slice(0, 4)), name, n: 1 })));
  });

  it('the three agree on one generated environment id and external-id prefix, the catalog\'s', async () => {
    const config = await rows<{ key: string; value: string }>(admin, "SELECT key, value FROM iamlink_internal.config WHERE key IN ('environment_id', 'aws_external_id_prefix')");
    stored = Object.fromEntries(config.map((r) => [r.key, r.value])) as typeof stored;
    expect(stored.environment_id).toMatch(/\S/);
    expect(stored.aws_external_id_prefix).toMatch(/\S/);
    const clients = await Promise.all(nodes.map((n) => fleet.connect(n)));
    // One connection per node; every node shows every connection's external id the same way.
    for (const [i, c] of clients.entries()) await c.query(`CREATE CONNECTION start_${i} TO AWS (ASSUME ROLE ARN = '${ROLE}')`);
    const views = await Promise.all(clients.map((c) => rows<{ id: string; name: string; external_id: string }>(c, 'SELECT id, name, external_id FROM mz_connections JOIN mz_internal.mz_aws_connections USING (id) ORDER BY id')));
    expect(views[0]).toHaveLength(3);
    for (const v of views) expect(v).toEqual(views[0]);
    for (const r of views[0]!) expect(r.external_id).toBe(`mz_${stored.aws_external_id_prefix}_${r.id}`);
  });

  it('a later node with a different --aws-external-id-prefix refuses to start, naming both values', async () => {
    const exit = await runChildExpectingExit(nodeArgs(db.url, key.path, ['--aws-external-id-prefix', 'some-other-prefix']));
    expect(exit.code).not.toBe(0);
    expect(typeof exit.code).toBe('number');
    expect(exit.stderr).toContain('some-other-prefix');
    expect(exit.stderr).toContain(stored.aws_external_id_prefix);
    expect(exit.stderr).toMatch(/aws-external-id-prefix/);
  });

  it('a later node with a different --environment-id refuses to start, naming both values', async () => {
    const exit = await runChildExpectingExit(nodeArgs(db.url, key.path, ['--environment-id', 'another-env']));
    expect(exit.code).not.toBe(0);
    expect(typeof exit.code).toBe('number');
    expect(exit.stderr).toContain('another-env');
    expect(exit.stderr).toContain(stored.environment_id);
  });

  it('a later node with the catalog\'s own values given explicitly starts, and serves the same catalog', async () => {
    const node = await fleet.start(db.url, key.path, ['--aws-external-id-prefix', stored.aws_external_id_prefix, '--environment-id', stored.environment_id]);
    const c = await fleet.connect(node);
    expect((await rows(c, "SELECT name FROM mz_connections WHERE name LIKE 'start_%' ORDER BY 1")).map((r) => r.name)).toEqual(['start_0', 'start_1', 'start_2']);
  });

  it('a node with another --secrets-key-file refuses to start, with a message about the key', async () => {
    const c = await fleet.connect(nodes[0]!);
    // A secret written under the catalog's key, so that there is something the other key could not open.
    await c.query("CREATE SECRET keyed AS 'value'");
    const exit = await runChildExpectingExit(nodeArgs(db.url, otherKey.path));
    expect(exit.code).not.toBe(0);
    expect(typeof exit.code).toBe('number');
    expect(exit.stderr).toMatch(/secrets key/i);
    expect(exit.stderr).toContain('--secrets-key-file');
    // Nothing of the refused node's key was recorded: the catalog's nodes still serve, and a fresh one starts.
    expect(await rows(admin, "SELECT value FROM iamlink_internal.config WHERE key = 'secrets_key_id'")).toHaveLength(1);
    const again = await fleet.start(db.url, key.path);
    const c2 = await fleet.connect(again);
    expect(await rows(c2, "SELECT name FROM mz_secrets WHERE name = 'keyed'")).toEqual([{ name: 'keyed' }]);
  });

  it('a node with --catalog-url and no --secrets-key-file refuses to start (config error, exit 2)', async () => {
    const args = nodeArgs(db.url, key.path).filter((a, i, all) => a !== '--secrets-key-file' && all[i - 1] !== '--secrets-key-file');
    expect(args).not.toContain(key.path);
    const exit = await runChildExpectingExit(args, { IAMLINK_SECRETS_KEY_FILE: '' });
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain('--secrets-key-file');
    expect(exit.stderr).toMatch(/catalog-url/);
  });

  it('the nodes that started at once are all still serving', async () => {
    for (const n of nodes) {
      const c = await fleet.connect(n);
      expect((await rows(c, 'SELECT count(*)::int AS n FROM mz_connections')).at(0)).toEqual({ n: 3 });
    }
  });
});
