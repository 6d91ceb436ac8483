/**
 * npm run bench: lookup throughput (pgbench) against iamlink and PostgreSQL 15 holding the
 * same rows, DDL rate, and startup time and RSS with 100,000 connections. Prints a table.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgliteStore } from '../src/catalog/pglite-store.js';
import { startPostgres } from './postgres.js';
import { benchFairness } from './fairness.js';
import { startIamlink, type Child } from './iamlink.js';
import { benchValidate } from './validate.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const JUMP = 'arn:aws:iam::123456789012:role/iamlink-jump';
const SIZES = (process.env.BENCH_SIZES ?? '1000,100000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

/** The same rows for both engines: N assume-role connections named conn_1 .. conn_N. */
function seedSql(n: number): string {
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

function lookupScript(n: number): string {
  const path = join(tmpdir(), `iamlink-lookup-${n}.sql`);
  writeFileSync(
    path,
    `\\set n random(1, ${n})\nSELECT principal, external_id, example_trust_policy FROM mz_internal.mz_aws_connections aws JOIN mz_connections c ON aws.id = c.id WHERE c.name = 'conn_' || :n;\n`,
  );
  return path;
}

function pgbench(url: string, script: string, env: NodeJS.ProcessEnv = {}, mode: 'simple' | 'prepared' = 'simple'): number {
  const out = execFileSync('pgbench', ['-n', '-M', mode, '-f', script, '-c', '4', '-j', '2', '-T', String(SECONDS), url], { encoding: 'utf8', env: { ...process.env, ...env } });
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
  if (!m) throw new Error(`pgbench printed no tps:\n${out}`);
  return Number(m[1]);
}

async function startIamlinkWithJump(dataDir: string): Promise<Child> {
  return startIamlink(dataDir, ['--aws-connection-role-arn', JUMP]);
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return Math.round(kb / 1024);
}

/** A data directory with migrations applied and `n` connections seeded. */
async function seededIamlinkDir(n: number): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'iamlink-bench-')), 'data');
  const first = await startIamlinkWithJump(dir);
  await first.stop();
  const store = await PgliteStore.open(join(dir, 'catalog'));
  await store.exec(seedSql(n));
  await store.close();
  return dir;
}

async function ddlRate(url: string, sql: (i: number) => string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const deadline = performance.now() + 5000;
  let done = 0;
  while (performance.now() < deadline) await c.query(sql(done++));
  await c.end();
  return done / 5;
}

async function main(): Promise<void> {
  const parts = (process.env.BENCH_PARTS ?? 'lookup,validate,fairness').split(',');
  if (parts.includes('lookup')) await benchLookup();
  if (parts.includes('fairness')) {
    const rows = await benchFairness();
    process.stdout.write(`\n| SELECT 1 latency in other sessions | iamlink | goal |\n| --- | --- | --- |\n${rows.join('\n')}\n`);
  }
  if (parts.includes('validate')) {
    const rows = await benchValidate();
    process.stdout.write(`\n| measure | iamlink | goal |\n| --- | --- | --- |\n${rows.join('\n')}\n`);
  }
}

async function benchLookup(): Promise<void> {
  const rows: string[] = [];
  const postgres = await startPostgres();
  try {
    postgres.psql([], 'CREATE SCHEMA iamlink_internal;');
    postgres.psql(['-f', join(ROOT, 'migrations/0001_catalog.sql')]);
    const pgEnv = { PGOPTIONS: '-c search_path=mz_catalog,mz_internal,public' };
    let seeded = 0;
    for (const n of SIZES) {
      postgres.psql([], 'TRUNCATE iamlink_internal.items CASCADE;');
      postgres.psql([], seedSql(n));
      seeded = n;
      const dir = await seededIamlinkDir(n);
      const iamlink = await startIamlinkWithJump(dir);
      const script = lookupScript(n);
      const ours = pgbench(iamlink.url, script);
      const theirs = pgbench(postgres.url, script, pgEnv);
      rows.push(`| lookup by name, ${n.toLocaleString('en')} connections (TPS, 4 clients) | ${ours.toFixed(0)} | ${theirs.toFixed(0)} | ${(ours / theirs).toFixed(2)} |`);
      if (n === Math.min(...SIZES)) {
        // What drivers use: the extended protocol with a prepared statement (goal: ≥ simple).
        const prepared = pgbench(iamlink.url, script, {}, 'prepared');
        rows.push(`| … the same, pgbench -M prepared (TPS; iamlink prepared / iamlink simple) | ${prepared.toFixed(0)} | | ${(prepared / ours).toFixed(2)} |`);
      }
      if (n === Math.max(...SIZES)) {
        await iamlink.stop();
        const reopened = await startIamlinkWithJump(dir);
        const rss = rssMb(reopened.pid);
        rows.push(`| startup with ${n.toLocaleString('en')} connections (reopen, ms) | ${reopened.startMs.toFixed(0)} | | |`);
        rows.push(`| RSS after startup with ${n.toLocaleString('en')} connections (MB) | ${rss} | | |`);
        await reopened.stop();
      } else {
        await iamlink.stop();
      }
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
    void seeded;
    // DDL: durable CREATE CONNECTION through iamlink vs INSERT + COMMIT in PostgreSQL.
    const dir = await seededIamlinkDir(0);
    const iamlink = await startIamlinkWithJump(dir);
    const ours = await ddlRate(iamlink.url, (i) => `CREATE CONNECTION ddl_${i} TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R${i}')`);
    await iamlink.stop();
    rmSync(join(dir, '..'), { recursive: true, force: true });
    postgres.psql([], 'CREATE TABLE ddl_bench (id serial PRIMARY KEY, name text UNIQUE, definition jsonb);');
    const theirs = await ddlRate(postgres.url, (i) => `INSERT INTO ddl_bench (name, definition) VALUES ('ddl_${i}', '{"assume_role_arn": "arn:aws:iam::001234567890:role/R${i}"}')`);
    rows.push(`| DDL: CREATE CONNECTION vs INSERT+COMMIT (per second, 1 client) | ${ours.toFixed(0)} | ${theirs.toFixed(0)} | ${(ours / theirs).toFixed(2)} |`);
  } finally {
    postgres.stop();
  }
  process.stdout.write(`\n| measure | iamlink | PostgreSQL 15 | ratio |\n| --- | --- | --- | --- |\n${rows.join('\n')}\n`);
}

await main();
