/**
 * What one client can do to the others: SELECT 1 latency in a victim session, alone, while
 * another client sends a 30 MB query, and while another loops heavy reads (docs/limits.md);
 * and (benchFairnessStores) the heavy-read loop on the shared PostgreSQL store and on PGlite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { createSharedCatalog, migrateAndSeed } from './catalog.js';
import { startIamlink } from './iamlink.js';
import { startPostgres } from './postgres.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/**
 * A read that runs for seconds in the engine (16 million rows: ~2 s on PGlite, ~1 s on
 * PostgreSQL). Its bounds move with `i` so that no store could answer it from a cache.
 */
const heavy = (i: number): string => `SELECT count(*) FROM generate_series(${i + 1}, ${i + 4000}) a, generate_series(1, 4000) b`;
const HEAVY_SHOWN = 'SELECT count(*) FROM generate_series(1, 4000) a, generate_series(1, 4000) b';

async function start(flags: string[]): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const dir = join(mkdtempSync(join(tmpdir(), 'iamlink-fair-')), 'data');
  const child = await startIamlink({ dataDir: dir }, { flags });
  return {
    ...child,
    stop: async () => {
      await child.stop();
      rmSync(join(dir, '..'), { recursive: true, force: true });
    },
  };
}

/**
 * Victim latencies (ms) of `query(i)` (SELECT 1 by default), one after another 5 ms apart,
 * while `during` runs.
 */
async function victim(url: string, during: Promise<unknown>, stopAfterMs: number, query: (i: number) => string = () => 'SELECT 1'): Promise<number[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const latencies: number[] = [];
  let done = false;
  void during.finally(() => (done = true));
  const deadline = performance.now() + stopAfterMs;
  for (let i = 0; !done && performance.now() < deadline; i++) {
    const t = performance.now();
    await c.query(query(i));
    latencies.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
  await c.end();
  return latencies;
}

/** A SELECT that reaches the engine every time: a literal never sent before, so never answered from the embedded store's cache. */
let literal = 1;
const uncachedSelect = (): string => `SELECT ${++literal}`;

/**
 * Reads from 10 sessions at once before measuring: the shared store opens its pooled engine
 * sessions (10 by default) on first use, and each new one costs a backend start.
 */
async function warmUp(url: string): Promise<void> {
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      for (let i = 0; i < 20; i++) await c.query(uncachedSelect());
      await c.end();
    }),
  );
}

/** One session running heavy reads back to back until `untilMs` (performance.now()); their durations and failures. */
function heavyLoop(url: string, untilMs: number): Promise<{ ms: number[]; errors: Record<string, number> }> {
  return (async () => {
    const looper = new pg.Client({ connectionString: url });
    await looper.connect();
    const ms: number[] = [];
    const errors: Record<string, number> = {};
    for (let i = 0; performance.now() < untilMs; i++) {
      const t = performance.now();
      try {
        await looper.query(heavy(i));
        ms.push(performance.now() - t);
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'no sqlstate';
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
    await looper.end();
    return { ms, errors };
  })();
}

function summary(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return `p50 ${at(0.5).toFixed(1)} / p99 ${at(0.99).toFixed(1)} / max ${sorted[sorted.length - 1]?.toFixed(1)} ms (${sorted.length} queries)`;
}

/** Send one Query message of `bytes` in 64 KiB writes, and wait for its answer or the close. */
function sendHugeQuery(port: number, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(serialize.startup({ user: 'materialize', database: 'materialize' }));
      const body = Buffer.alloc(bytes, 'x');
      body.write("SELECT length('", 0);
      body.write("')", bytes - 3);
      const header = Buffer.alloc(5);
      header.write('Q');
      header.writeInt32BE(4 + bytes + 1, 1);
      const message = Buffer.concat([header, body, Buffer.from([0])]);
      let at = 0;
      const pump = (): void => {
        while (at < message.length) {
          const ok = socket.write(message.subarray(at, at + 65536));
          at += 65536;
          if (!ok) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    // The first ReadyForQuery ends the startup; the second answers the query.
    let ready = 0;
    socket.on('data', (d: Buffer) => {
      for (let at = d.indexOf('Z\0\0\0\x05'); at >= 0; at = d.indexOf('Z\0\0\0\x05', at + 1)) ready++;
      if (ready >= 2) socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

export async function benchFairness(): Promise<string[]> {
  const rows: string[] = [];
  const server = await start([]);
  try {
    rows.push(`| SELECT 1 in another session, alone | ${summary(await victim(server.url, new Promise((r) => setTimeout(r, 2000)), 2000))} | |`);
    const refused = sendHugeQuery(server.port, 30 * 1024 * 1024);
    rows.push(`| … while one client sends a 30 MB query (default limit 8 MiB: refused at its header) | ${summary(await victim(server.url, refused, 60_000))} | max < 100 ms |`);
    const largest = sendHugeQuery(server.port, 8 * 1024 * 1024 - 16);
    rows.push(`| … while one client sends an 8 MB query (the largest the default allows) | ${summary(await victim(server.url, largest, 60_000))} | |`);
    const loop = heavyLoop(server.url, performance.now() + SECONDS * 1000);
    // SELECT 1 is answered from the answer cache without the engine; a new literal each time reaches it.
    const [cached, uncached] = await Promise.all([victim(server.url, loop, SECONDS * 1000 + 10_000), victim(server.url, loop, SECONDS * 1000 + 10_000, uncachedSelect)]);
    rows.push(`| … while one client loops heavy reads (${SECONDS} s) | ${summary(cached)} | max ≤ statement timeout (5 s) + engine restart |`);
    rows.push(`| … at the same time, SELECT <a new literal each time> (not from the answer cache: waits for the engine) | ${summary(uncached)} | max ≤ statement timeout (5 s) + engine restart |`);
    await loop;
  } finally {
    await server.stop();
  }
  const raised = await start(['--max-message-bytes', String(64 * 1024 * 1024)]);
  try {
    const huge = sendHugeQuery(raised.port, 30 * 1024 * 1024);
    rows.push(`| … while one client sends a 30 MB query (limit raised to 64 MiB: answered) | ${summary(await victim(raised.url, huge, 60_000))} | max < 100 ms |`);
  } finally {
    await raised.stop();
  }
  return rows;
}

/**
 * SELECT 1 in other sessions while one session loops a heavy read, on the shared PostgreSQL
 * store (goal p99 < 20 ms: reads run on separate engine sessions) and on PGlite (one engine:
 * reported only). Two victims at once: SELECT 1 (on PGlite answered from the answer cache,
 * never reaching the engine) and SELECT <a new literal each time> (reaching the engine).
 */
export async function benchFairnessStores(): Promise<string[]> {
  const measure = async (url: string): Promise<{ alone: [number[], number[]]; loaded: [number[], number[]]; heavyMs: number[]; errors: Record<string, number> }> => {
    await warmUp(url);
    const idle = new Promise((r) => setTimeout(r, 2000));
    const alone = (await Promise.all([victim(url, idle, 2000), victim(url, idle, 2000, uncachedSelect)])) as [number[], number[]];
    const loop = heavyLoop(url, performance.now() + SECONDS * 1000);
    const loaded = (await Promise.all([victim(url, loop, SECONDS * 1000 + 10_000), victim(url, loop, SECONDS * 1000 + 10_000, uncachedSelect)])) as [number[], number[]];
    const { ms: heavyMs, errors } = await loop;
    return { alone, loaded, heavyMs, errors };
  };

  const catalogServer = await startPostgres();
  let shared;
  try {
    const catalog = await createSharedCatalog(catalogServer, 'fairness');
    try {
      await migrateAndSeed(catalog, 0);
      const node = await catalog.node();
      try {
        shared = await measure(node.url);
      } finally {
        await node.stop();
      }
    } finally {
      catalog.drop();
    }
  } finally {
    catalogServer.stop();
  }
  const server = await start([]);
  let embedded;
  try {
    embedded = await measure(server.url);
  } finally {
    await server.stop();
  }
  const heavyText = (m: typeof shared): string => {
    const failed = Object.entries(m.errors).map(([k, v]) => `, ${v} failed with ${k}`).join('');
    return `${m.heavyMs.length} done, median ${[...m.heavyMs].sort((a, b) => a - b)[Math.floor(m.heavyMs.length / 2)]?.toFixed(0) ?? '-'} ms${failed}`;
  };
  return [
    `| SELECT 1, alone | ${summary(shared.alone[0])} | ${summary(embedded.alone[0])} | |`,
    `| SELECT <new literal> (never from a cache), alone | ${summary(shared.alone[1])} | ${summary(embedded.alone[1])} | |`,
    `| SELECT 1 while one session loops \`${HEAVY_SHOWN}\` (${SECONDS} s) | ${summary(shared.loaded[0])} | ${summary(embedded.loaded[0])} | p99 < 20 ms (PostgreSQL store) |`,
    `| SELECT <new literal> at the same time, in a third session | ${summary(shared.loaded[1])} | ${summary(embedded.loaded[1])} | |`,
    `| … the heavy reads themselves | ${heavyText(shared)} | ${heavyText(embedded)} | |`,
  ];
}
