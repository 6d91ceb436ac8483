/**
 * A large shared catalog: BENCH_BIG connections (1,000,000 by default) seeded with SQL into a
 * migrated PostgreSQL catalog, then a node started on it: time from spawn to its listening
 * line, and its RSS after start and after 1,000 lookups.
 */
import pg from 'pg';
import { createSharedCatalog, seedSql } from './catalog.js';
import { rssMb } from './lookup.js';
import { startPostgres } from './postgres.js';

export const BIG = Number(process.env.BENCH_BIG ?? 1_000_000);
const LOOKUPS = 1000;
const CLIENTS = 4;
const LOOKUP = "SELECT principal, external_id, example_trust_policy FROM mz_internal.mz_aws_connections aws JOIN mz_connections c ON aws.id = c.id WHERE c.name = 'conn_' || $1";

/**
 * The seed with the items trigger off and issued_ids written in one statement (what migration
 * 0002 does for existing items): the same rows as through the trigger, in half the time.
 */
function bulkSeedSql(n: number): string {
  return `SET session_replication_role = replica;
    ${seedSql(n)}
    INSERT INTO iamlink_internal.issued_ids (id, external_id, used) SELECT id, iamlink_internal.external_id_of(id), true FROM iamlink_internal.items;
    RESET session_replication_role;
    ANALYZE iamlink_internal.issued_ids;`;
}

export async function benchBig(): Promise<string[]> {
  const rows: string[] = [];
  const n = BIG.toLocaleString('en');
  const server = await startPostgres();
  try {
    const catalog = await createSharedCatalog(server, 'big');
    try {
      const first = await catalog.node();
      await first.stop();
      const seeding = performance.now();
      catalog.psql(bulkSeedSql(BIG));
      const seedMs = performance.now() - seeding;
      const [count] = catalog.psql('\\pset format unaligned\n\\pset tuples_only on\nSELECT count(*) FROM iamlink_internal.items;').trim().split('\n');
      if (Number(count) !== BIG) throw new Error(`seeded ${count} items, expected ${BIG}`);

      const node = await catalog.node();
      try {
        const rssStart = rssMb(node.pid);
        const latencies: number[] = [];
        const t = performance.now();
        await Promise.all(
          Array.from({ length: CLIENTS }, async () => {
            const c = new pg.Client({ connectionString: node.url });
            await c.connect();
            for (let i = 0; i < LOOKUPS / CLIENTS; i++) {
              const q = performance.now();
              const { rows: found } = await c.query({ text: LOOKUP, values: [String(1 + Math.floor(Math.random() * BIG))] });
              latencies.push(performance.now() - q);
              if (found.length !== 1) throw new Error(`a lookup found ${found.length} rows`);
            }
            await c.end();
          }),
        );
        const lookupMs = performance.now() - t;
        const rssAfter = rssMb(node.pid);
        latencies.sort((a, b) => a - b);
        rows.push(`| seeding ${n} connections with SQL (s; trigger off, issued_ids in one INSERT) | ${(seedMs / 1000).toFixed(1)} | |`);
        rows.push(`| node start with ${n} connections: spawn to listening line (ms) | ${node.startMs.toFixed(0)} | < 1 s |`);
        rows.push(`| node RSS after start (MB) | ${rssStart} | < 300 MB |`);
        rows.push(
          `| node RSS after ${LOOKUPS.toLocaleString('en')} lookups (MB; ${CLIENTS} clients, extended protocol: ${(LOOKUPS / (lookupMs / 1000)).toFixed(0)} lookups/s, p50 ${latencies[Math.floor(latencies.length / 2)]!.toFixed(1)} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)]!.toFixed(1)} ms) | ${rssAfter} | < 300 MB |`,
        );
      } finally {
        await node.stop();
      }
      // Once more, with the database's caches as the first start left them.
      const again = await catalog.node();
      rows.push(`| … a second node start on the same catalog (ms) | ${again.startMs.toFixed(0)} | < 1 s |`);
      await again.stop();
    } finally {
      catalog.drop();
    }
  } finally {
    server.stop();
  }
  return rows;
}
