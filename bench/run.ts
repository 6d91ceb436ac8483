/**
 * npm run bench: prints markdown tables. BENCH_PARTS (comma-separated) picks what runs:
 *   lookup       pgbench lookups vs PostgreSQL 15 alone: PGlite store, PostgreSQL store with 1 and 2 nodes (BENCH_SIZES)
 *   ddl          durable CREATE CONNECTION per second, 1 and 16 clients, both stores, vs INSERT in PostgreSQL
 *   validate     VALIDATE latency and rate against the STS emulator
 *   fairness     SELECT 1 latency in other sessions on PGlite: huge queries, heavy reads
 *   fairness-pg  SELECT 1 latency while one session loops heavy reads, PostgreSQL store and PGlite
 *   big          BENCH_BIG connections (1,000,000) on the PostgreSQL store: node start time and RSS
 *   tls          lookup over TLS vs plain, and SCRAM login rate with and without TLS
 * BENCH_SECONDS (10) is each pgbench run and heavy-read loop; DDL rates take half of it.
 */
import { loadavg } from 'node:os';
import { benchBig, BIG } from './big.js';
import { benchDdl } from './ddl.js';
import { benchFairness, benchFairnessStores } from './fairness.js';
import { benchLookup } from './lookup.js';
import { benchTls } from './tls.js';
import { benchValidate } from './validate.js';

const ALL = ['lookup', 'ddl', 'validate', 'fairness', 'fairness-pg', 'big', 'tls'];

function table(header: string[], rows: string[]): void {
  process.stdout.write(`\n| ${header.join(' | ')} |\n|${header.map(() => ' --- |').join('')}\n${rows.join('\n')}\n`);
}

async function timed<T>(part: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await fn();
  } finally {
    // Other work on the machine moves every number here: say how busy it was.
    process.stderr.write(`bench: ${part} took ${((performance.now() - t) / 1000).toFixed(0)} s (load average now ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
  }
}

async function main(): Promise<void> {
  const parts = (process.env.BENCH_PARTS ?? ALL.join(',')).split(',').map((p) => p.trim());
  const unknown = parts.filter((p) => !ALL.includes(p));
  if (unknown.length > 0) throw new Error(`unknown BENCH_PARTS ${unknown.join(', ')}: expected some of ${ALL.join(', ')}`);
  if (parts.includes('lookup')) table(['measure', 'iamlink', 'PostgreSQL 15', 'ratio', 'goal'], await timed('lookup', benchLookup));
  if (parts.includes('ddl')) table(['measure', 'iamlink', 'PostgreSQL 15', 'ratio', 'goal'], await timed('ddl', benchDdl));
  if (parts.includes('fairness')) table(['SELECT 1 latency in other sessions', 'iamlink', 'goal'], await timed('fairness', benchFairness));
  if (parts.includes('fairness-pg')) table(['latency in other sessions', 'PostgreSQL store', 'PGlite store', 'goal'], await timed('fairness-pg', benchFairnessStores));
  if (parts.includes('validate')) table(['measure', 'iamlink', 'goal'], await timed('validate', benchValidate));
  if (parts.includes('tls')) table(['measure', 'iamlink', 'plain', 'ratio', 'goal'], await timed('tls', benchTls));
  if (parts.includes('big')) table([`${BIG.toLocaleString('en')} connections, PostgreSQL store`, 'iamlink', 'goal'], await timed('big', benchBig));
}

await main();
