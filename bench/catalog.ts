/**
 * Catalogs for benchmarks: the rows every engine is seeded with, and iamlink's shared store (a
 * database on a PostgreSQL server, one secrets key file for all its nodes).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIamlink, type Child, type IamlinkOptions } from './iamlink.js';
import type { BenchPostgres } from './postgres.js';

export const JUMP = 'arn:aws:iam::123456789012:role/iamlink-jump';

/**
 * The same rows for every engine: N assume-role connections named conn_1 .. conn_N, ids and
 * oids from the catalog's own sequences (so the id counter stays ahead of every issued id; on a
 * migrated catalog the items trigger records each id in issued_ids).
 */
export function seedSql(n: number): string {
  return `
    INSERT INTO iamlink_internal.config (key, value) VALUES ('aws_connection_role_arn', '${JUMP}'), ('aws_external_id_prefix', 'bench')
      ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    INSERT INTO iamlink_internal.items (id, oid, kind, schema_id, name, owner_id, definition, create_sql, redacted_create_sql)
    SELECT 'u' || nextval('iamlink_internal.item_id_seq'), nextval('iamlink_internal.item_oid_seq'), 'connection', 'u3', 'conn_' || g, 'u1',
           jsonb_build_object('assume_role_arn', 'arn:aws:iam::001234567890:role/R' || g),
           'CREATE CONNECTION "materialize"."public"."conn_' || g || '" TO AWS (ASSUME ROLE ARN = ''arn:aws:iam::001234567890:role/R' || g || ''')',
           'CREATE CONNECTION "materialize"."public"."conn_' || g || '" TO AWS (ASSUME ROLE ARN = ''<REDACTED>'')'
      FROM generate_series(1, ${n}) g;
    ANALYZE iamlink_internal.items;`;
}

/** iamlink's shared store: database `name` on `server`, its nodes all started with one key file. */
export interface SharedCatalog {
  /** The catalog URL the nodes are given (the server's superuser: it migrates and creates the client role). */
  readonly url: string;
  readonly keyFile: string;
  /** Start a node (with the jump role configured, as in the walkthrough). */
  node(options?: IamlinkOptions): Promise<Child>;
  psql(sql: string): string;
}

export async function createSharedCatalog(server: BenchPostgres, name: string): Promise<SharedCatalog & { drop(): void }> {
  server.psql([], `CREATE DATABASE ${name};`);
  const keyDir = mkdtempSync(join(tmpdir(), 'iamlink-bench-key-'));
  const keyFile = join(keyDir, 'secrets.key');
  writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const url = server.urlOf(name);
  return {
    url,
    keyFile,
    node: (options = {}) =>
      startIamlink({ catalogUrl: url, secretsKeyFile: keyFile }, { ...options, flags: ['--aws-connection-role-arn', JUMP, ...(options.flags ?? [])] }),
    psql: (sql) => server.psql([], sql, name),
    drop: () => {
      server.psql([], `DROP DATABASE IF EXISTS ${name} WITH (FORCE);`);
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
}

/** Migrate the catalog (a first node starts and stops), then seed `n` connections into it with SQL. Returns the seeding's ms. */
export async function migrateAndSeed(catalog: SharedCatalog, n: number): Promise<number> {
  const first = await catalog.node();
  await first.stop();
  const t = performance.now();
  catalog.psql(seedSql(n));
  return performance.now() - t;
}
