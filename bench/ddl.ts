/**
 * DDL rate: durable CREATE CONNECTION per second through iamlink (embedded and shared store)
 * against an autocommit INSERT into a plain PostgreSQL table, with 1 and with 16 clients.
 * Names are unique per client; only successes count, and every failure is reported by SQLSTATE.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createSharedCatalog, migrateAndSeed } from './catalog.js';
import { seededIamlinkDir, startIamlinkWithJump } from './lookup.js';
import { SECONDS } from './pgbench.js';
import { startPostgres } from './postgres.js';

const CLIENTS = [1, 16];
/** Each rate is measured for half of BENCH_SECONDS (5 s by default). */
const DDL_SECONDS = Math.max(1, SECONDS / 2);

export interface Rate {
  readonly perSecond: number;
  /** Failed statements by SQLSTATE (or message), e.g. { '40001': 3 }. */
  readonly errors: Record<string, number>;
}

/** `clients` sessions each running `sql(client, i)` back to back for DDL_SECONDS. */
export async function rate(url: string, clients: number, sql: (client: number, i: number) => string): Promise<Rate> {
  const sessions = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    }),
  );
  const errors: Record<string, number> = {};
  let done = 0;
  const started = performance.now();
  const deadline = started + DDL_SECONDS * 1000;
  await Promise.all(
    sessions.map(async (c, client) => {
      for (let i = 0; performance.now() < deadline; i++) {
        try {
          await c.query(sql(client, i));
          done++;
        } catch (err) {
          const e = err as { code?: string; message?: string };
          const key = e.code ?? `no sqlstate: ${e.message}`;
          errors[key] = (errors[key] ?? 0) + 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(sessions.map((c) => c.end().catch(() => undefined)));
  return { perSecond: done / elapsed, errors };
}

/** Names unique per run (`clients`), client and statement. */
const createConnection =
  (clients: number) =>
  (client: number, i: number): string =>
    `CREATE CONNECTION ddl_${clients}_${client}_${i} TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R${client}_${i}')`;

function errorText(r: Rate): string {
  const entries = Object.entries(r.errors);
  return entries.length === 0 ? '' : ` **errors: ${entries.map(([k, v]) => `${k} × ${v}`).join(', ')}**`;
}

/** ERRORs the catalog database logged (iamlink retries 40001, 40P01 and 23505 itself), counted by message. */
function engineErrors(log: string): string {
  const counts = new Map<string, number>();
  for (const m of log.matchAll(/ERROR:\s+(.*)/g)) {
    const message = m[1]!.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N');
    counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  if (counts.size === 0) return '';
  return ` (catalog database errors, retried: ${[...counts].map(([k, v]) => `${v} × ${k}`).join('; ')})`;
}

export async function benchDdl(): Promise<string[]> {
  const rows: string[] = [];
  const postgres = await startPostgres();
  const catalogServer = await startPostgres();
  try {
    postgres.psql([], 'CREATE TABLE ddl_bench (id serial PRIMARY KEY, name text UNIQUE, definition jsonb);');
    const theirs = new Map<number, Rate>();
    for (const clients of CLIENTS) {
      theirs.set(
        clients,
        await rate(postgres.url, clients, (c, i) => `INSERT INTO ddl_bench (name, definition) VALUES ('ddl_${clients}_${c}_${i}', '{"assume_role_arn": "arn:aws:iam::001234567890:role/R${c}_${i}"}')`),
      );
    }
    const row = (store: string, clients: number, ours: Rate): string => {
      const base = theirs.get(clients)!;
      return `| DDL: durable CREATE CONNECTION vs INSERT (autocommit), ${store}, ${clients} client${clients === 1 ? '' : 's'} (per second)${errorText(ours)}${errorText(base)} | ${ours.perSecond.toFixed(0)} | ${base.perSecond.toFixed(0)} | ${(ours.perSecond / base.perSecond).toFixed(2)} | ≥ 0.5 |`;
    };

    const dir = await seededIamlinkDir(0);
    const embedded = await startIamlinkWithJump(dir);
    try {
      for (const clients of CLIENTS) rows.push(row('PGlite store', clients, await rate(embedded.url, clients, createConnection(clients))));
    } finally {
      await embedded.stop();
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }

    const catalog = await createSharedCatalog(catalogServer, 'ddl');
    try {
      await migrateAndSeed(catalog, 0);
      const node = await catalog.node();
      try {
        for (const clients of CLIENTS) {
          const logAt = catalogServer.log().length;
          const ours = await rate(node.url, clients, createConnection(clients));
          rows.push(row(`PostgreSQL store, 1 node${engineErrors(catalogServer.log().slice(logAt))}`, clients, ours));
        }
      } finally {
        await node.stop();
      }
    } finally {
      catalog.drop();
    }
  } finally {
    postgres.stop();
    catalogServer.stop();
  }
  return rows;
}
