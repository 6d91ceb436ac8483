import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { CatalogStore } from './store.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The migrations shipped with this build, in order (`0001_name.sql`, ...). */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (name) => ({ version: Number(name.slice(0, 4)), name, sql: await readFile(`${dir}/${name}`, 'utf8') })),
  );
}

/**
 * Apply the migrations the store has not seen, each in its own transaction, recording them
 * in iamlink_internal.migrations. Returns the versions applied.
 */
export async function migrate(store: CatalogStore): Promise<number[]> {
  const migrations = await loadMigrations();
  await store.exec(
    'CREATE SCHEMA IF NOT EXISTS iamlink_internal; ' +
      'CREATE TABLE IF NOT EXISTS iamlink_internal.migrations (version integer PRIMARY KEY, name text NOT NULL)',
  );
  const rows = await store.query<{ version: number }>('SELECT version FROM iamlink_internal.migrations');
  const applied = new Set(rows.map((r) => r.version));
  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    await store.transaction(async (tx) => {
      await tx.exec(m.sql);
      await tx.query('INSERT INTO iamlink_internal.migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    });
    done.push(m.version);
  }
  return done;
}
