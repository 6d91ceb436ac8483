/**
 * Lookup throughput (pgbench of the walkthrough's join by a random connection name) at each of
 * BENCH_SIZES, against PostgreSQL 15 holding the same rows in plain tables: iamlink on the
 * embedded store (PGlite), and on the shared store (a second PostgreSQL server) with one node
 * and with two nodes at once. Also startup time and RSS of the embedded store at the largest size.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PgliteStore } from '../src/catalog/pglite-store.js';
import { createSharedCatalog, JUMP, migrateAndSeed, seedSql } from './catalog.js';
import { startIamlink, type Child } from './iamlink.js';
import { lookupScript, pgbench, pgbenchTogether } from './pgbench.js';
import { startPostgres, type BenchPostgres } from './postgres.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SIZES = (process.env.BENCH_SIZES ?? '1000,100000').split(',').map(Number);
/** PostgreSQL alone reads the views as the superuser with this search_path. */
const PG_ENV = { PGOPTIONS: '-c search_path=mz_catalog,mz_internal,public' };

export function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return Math.round(kb / 1024);
}

export async function startIamlinkWithJump(dataDir: string): Promise<Child> {
  return startIamlink({ dataDir }, { flags: ['--aws-connection-role-arn', JUMP] });
}

/** A data directory with migrations applied and `n` connections seeded. */
export async function seededIamlinkDir(n: number): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'iamlink-bench-')), 'data');
  const first = await startIamlinkWithJump(dir);
  await first.stop();
  const store = await PgliteStore.open(join(dir, 'catalog'));
  await store.exec(seedSql(n));
  await store.close();
  return dir;
}

/** PostgreSQL alone: the catalog's tables and views (migration 0001), as plain tables a superuser reads. */
export function plainPostgresCatalog(postgres: BenchPostgres): void {
  postgres.psql([], 'CREATE SCHEMA iamlink_internal;');
  postgres.psql(['-f', join(ROOT, 'migrations/0001_catalog.sql')]);
}

const fmt = (n: number): string => n.toLocaleString('en');
const ratio = (a: number, b: number): string => (a / b).toFixed(2);

export async function benchLookup(): Promise<string[]> {
  const rows: string[] = [];
  const postgres = await startPostgres();
  // The shared store's own server: its load is not the comparison's.
  const catalogServer = await startPostgres();
  try {
    plainPostgresCatalog(postgres);
    for (const n of SIZES) {
      const script = lookupScript(n);
      postgres.psql([], 'SET client_min_messages = warning; TRUNCATE iamlink_internal.items CASCADE;');
      postgres.psql([], seedSql(n));
      const theirs = await pgbench(postgres.url, script, { env: PG_ENV });
      // PostgreSQL planning each lookup's view join (-M simple) is much of its time; iamlink lifts literals and prepares.
      const theirsPrepared = await pgbench(postgres.url, script, { env: PG_ENV, mode: 'prepared' });
      const theirs2 = (await pgbenchTogether([postgres.url, postgres.url], script, { env: PG_ENV })).reduce((a, b) => a + b, 0);

      // The embedded store (PGlite).
      const dir = await seededIamlinkDir(n);
      const embedded = await startIamlinkWithJump(dir);
      const ours = await pgbench(embedded.url, script);
      rows.push(`| lookup by name, ${fmt(n)} connections, PGlite store (TPS, 4 clients; a name asked again is answered from the store's cache) | ${ours.toFixed(0)} | ${theirs.toFixed(0)} | ${ratio(ours, theirs)} | ≥ 0.5 |`);
      if (n === Math.min(...SIZES)) {
        // What drivers use: the extended protocol with a prepared statement (goal: ≥ simple).
        const prepared = await pgbench(embedded.url, script, { mode: 'prepared' });
        rows.push(`| … the same, pgbench -M prepared (TPS; ratio: iamlink prepared / iamlink simple) | ${prepared.toFixed(0)} | | ${ratio(prepared, ours)} | ≥ 1 |`);
      }
      await embedded.stop();
      if (n === Math.max(...SIZES)) {
        const reopened = await startIamlinkWithJump(dir);
        const rss = rssMb(reopened.pid);
        rows.push(`| startup with ${fmt(n)} connections, PGlite store (reopen, ms) | ${reopened.startMs.toFixed(0)} | | | < 1 s |`);
        rows.push(`| RSS after startup with ${fmt(n)} connections, PGlite store (MB) | ${rss} | | | < 400 MB |`);
        await reopened.stop();
      }
      rmSync(join(dir, '..'), { recursive: true, force: true });

      // The shared store (PostgreSQL), one node and then two.
      const catalog = await createSharedCatalog(catalogServer, `lookup_${n}`);
      try {
        await migrateAndSeed(catalog, n);
        const a = await catalog.node();
        try {
          const one = await pgbench(a.url, script);
          rows.push(`| lookup by name, ${fmt(n)} connections, PostgreSQL store, 1 node (TPS, 4 clients) | ${one.toFixed(0)} | ${theirs.toFixed(0)} | ${ratio(one, theirs)} | ≥ 0.6 |`);
          rows.push(
            `| … reference: PostgreSQL alone with pgbench -M prepared (plans once, as iamlink's lifted statements do; ratio: PostgreSQL store 1 node / this) | | ${theirsPrepared.toFixed(0)} | ${ratio(one, theirsPrepared)} | |`,
          );
          const b = await catalog.node();
          try {
            const [ta, tb] = (await pgbenchTogether([a.url, b.url], script)) as [number, number];
            rows.push(
              `| lookup by name, ${fmt(n)} connections, PostgreSQL store, 2 nodes (TPS, 4 clients each, ${ta.toFixed(0)} + ${tb.toFixed(0)}; PostgreSQL: 2 × 4 clients) | ${(ta + tb).toFixed(0)} | ${theirs2.toFixed(0)} | ${ratio(ta + tb, theirs2)} | ≥ 0.6 |`,
            );
          } finally {
            await b.stop();
          }
        } finally {
          await a.stop();
        }
      } finally {
        catalog.drop();
      }
    }
  } finally {
    postgres.stop();
    catalogServer.stop();
  }
  return rows;
}
