/**
 * What one client can do to the others: SELECT 1 latency in a victim session, alone, while
 * another client sends a 30 MB query, and while another loops heavy reads (docs/limits.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { startIamlink } from './iamlink.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** A read that runs for seconds in the engine. */
const HEAVY = 'SELECT count(*) FROM generate_series(1, 4000) a, generate_series(1, 4000) b';

async function start(flags: string[]): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const dir = join(mkdtempSync(join(tmpdir(), 'iamlink-fair-')), 'data');
  const child = await startIamlink(dir, flags);
  return {
    ...child,
    stop: async () => {
      await child.stop();
      rmSync(join(dir, '..'), { recursive: true, force: true });
    },
  };
}

/** Victim latencies (ms) of SELECT 1, one after another, while `during` runs. */
async function victim(url: string, during: Promise<unknown>, stopAfterMs: number): Promise<number[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const latencies: number[] = [];
  let done = false;
  void during.finally(() => (done = true));
  const deadline = performance.now() + stopAfterMs;
  while (!done && performance.now() < deadline) {
    const t = performance.now();
    await c.query('SELECT 1');
    latencies.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
  await c.end();
  return latencies;
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
    const looper = new pg.Client({ connectionString: server.url });
    await looper.connect();
    const until = performance.now() + SECONDS * 1000;
    const loop = (async () => {
      while (performance.now() < until) await looper.query(HEAVY).catch(() => undefined);
    })();
    rows.push(`| … while one client loops heavy reads (${SECONDS} s) | ${summary(await victim(server.url, loop, SECONDS * 1000 + 10_000))} | max ≤ statement timeout (5 s) + engine restart |`);
    await looper.end();
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
