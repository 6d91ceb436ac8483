/**
 * Build one migrated catalog data directory per test run; each test server starts from a
 * copy (docs/design.md §3: a fresh engine costs seconds and ~800 MB, a reopened copy a fraction).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import type { TestProject } from 'vitest/node';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { writeFile } from 'node:fs/promises';
import { startPostgres } from './postgres.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Child-process tests run the built server, as `npm start` does.
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT });
  const root = await mkdtemp(join(tmpdir(), 'iamlink-template-'));
  const dataDir = join(root, 'data');
  const server = await startServer(loadConfig(['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--aws-external-id-prefix', 'test-prefix', '--environment-id', 'test-env']), {
    log: createLogger('silent'),
  });
  await server.close();
  project.provide('templateDataDir', dataDir);

  // One real PostgreSQL server for the run: the shared store's tests each get a database of their
  // own, copied from a migrated template database (CREATE DATABASE ... TEMPLATE).
  const postgres = await startPostgres({ settings: { max_connections: '400' } });
  const keyFile = join(root, 'shared-secrets.key');
  await writeFile(keyFile, `${'5e'.repeat(32)}\n`, { mode: 0o600 });
  const admin = await postgres.client();
  await admin.query(`CREATE DATABASE ${POSTGRES_TEMPLATE}`);
  const shared = await startServer(
    loadConfig(['--catalog-url', postgresUrlFor(postgres.url, POSTGRES_TEMPLATE), '--secrets-key-file', keyFile, '--listen', '127.0.0.1:0', '--aws-external-id-prefix', 'test-prefix', '--environment-id', 'test-env']),
    { log: createLogger('silent') },
  );
  await shared.close();
  await admin.end();
  project.provide('postgresUrl', postgres.url);
  project.provide('sharedKeyFile', keyFile);
  return async () => {
    await postgres.stop();
    await rm(root, { recursive: true, force: true });
  };
}

/** The migrated database each shared-store test server's database is copied from. */
export const POSTGRES_TEMPLATE = 'iamlink_template';

/** The URL of database `db` on the server at `url`. */
export function postgresUrlFor(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDataDir: string;
    /** The run's PostgreSQL server, as its superuser, database postgres. */
    postgresUrl: string;
    /** The secrets key file the template database was made with. */
    sharedKeyFile: string;
  }
}
