/** Start iamlink servers for tests: in-process on port 0, from a copy of the template catalog. */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer, type StartOptions } from '../../src/server.js';
import { randomBytes } from 'node:crypto';
import { POSTGRES_TEMPLATE, postgresUrlFor } from './global-setup.js';

export const JUMP_ROLE_ARN = 'arn:aws:iam::123456789012:role/iamlink-jump';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  readonly logFile: string;
  /** Everything logged so far. */
  logText(): Promise<string>;
  client(options?: Partial<pg.ClientConfig>): Promise<pg.Client>;
  /**
   * A session of login role `user`, made first (as the first superuser) if it does not exist, and
   * granted `grants` (by default CREATE in the public schema, so that it may create items).
   */
  clientAs(user: string, grants?: readonly string[]): Promise<pg.Client>;
  stop(): Promise<void>;
}

/** A fresh data directory holding a copy of the migrated template. */
export async function freshDataDir(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'iamlink-test-'));
  const dataDir = join(root, 'data');
  await cp(inject('templateDataDir'), dataDir, { recursive: true });
  return dataDir;
}

/** The stores a contract test runs against: STORES=pglite,postgres (the default: both). */
export type StoreKind = 'pglite' | 'postgres';
export const STORES: StoreKind[] = (process.env.STORES ?? 'pglite,postgres').split(',').map((s) => {
  if (s !== 'pglite' && s !== 'postgres') throw new Error(`STORES: unknown store '${s}' (pglite, postgres)`);
  return s;
});

/** A database of its own on the run's PostgreSQL server, copied from the migrated template. */
export async function freshSharedCatalog(): Promise<{ url: string; keyFile: string; drop(): Promise<void> }> {
  const name = `iamlink_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client(inject('postgresUrl'));
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${POSTGRES_TEMPLATE}`);
  } finally {
    await admin.end();
  }
  return {
    url: postgresUrlFor(inject('postgresUrl'), name),
    keyFile: inject('sharedKeyFile'),
    drop: async () => {
      const c = new pg.Client(inject('postgresUrl'));
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => c.end());
    },
  };
}

export interface TestServerOptions extends Omit<StartOptions, 'log'> {
  /** Which store: the embedded one (default) or a fresh database on the run's PostgreSQL server. */
  readonly store?: StoreKind;
}

export async function startTestServer(extraFlags: string[] = [], dataDir?: string, options: TestServerOptions = {}): Promise<TestServer> {
  const dir = dataDir ?? (await freshDataDir());
  const logFile = join(dir, '..', 'iamlink.log');
  const shared = options.store === 'postgres' ? await freshSharedCatalog() : undefined;
  const storeFlags = shared ? ['--catalog-url', shared.url, '--secrets-key-file', shared.keyFile] : [];
  const config = loadConfig(['--data-dir', dir, '--listen', '127.0.0.1:0', '--aws-connection-role-arn', JUMP_ROLE_ARN, '--log-level', 'info', ...storeFlags, ...extraFlags]);
  const log = pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true }));
  const server = await startServer(config, { ...options, log });
  const clients: pg.Client[] = [];
  return {
    ...server,
    dataDir: dir,
    logFile,
    logText: () => readFile(logFile, 'utf8').catch(() => ''),
    client: async (options = {}) => {
      const c = new pg.Client({ host: server.host, port: server.port, user: 'materialize', database: 'materialize', ...options });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    },
    clientAs: async (user, grants = ['CREATE ON SCHEMA public']) => {
      const admin = new pg.Client({ host: server.host, port: server.port, user: 'materialize', database: 'materialize' });
      await admin.connect();
      try {
        const { rows } = await admin.query('SELECT 1 FROM mz_catalog.mz_roles WHERE name = $1', [user]);
        if (rows.length === 0) await admin.query(`CREATE ROLE "${user}" LOGIN`);
        for (const grant of grants) await admin.query(`GRANT ${grant} TO "${user}"`);
      } finally {
        await admin.end();
      }
      const c = new pg.Client({ host: server.host, port: server.port, user, database: 'materialize' });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    },
    stop: async () => {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await server.close();
      await shared?.drop();
      if (!dataDir) await rm(join(dir, '..'), { recursive: true, force: true });
    },
  };
}

/** What a failed query reported, for assertions. */
export async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string; detail?: string; hint?: string; position?: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as pg.DatabaseError;
    return { code: e.code ?? '', message: e.message, detail: e.detail, hint: e.hint, position: e.position };
  }
  throw new Error('expected the query to fail');
}

/** Everything a user can see of the catalog, to prove a failed statement changed nothing. */
export async function catalogSnapshot(c: pg.Client): Promise<unknown> {
  const q = async (sql: string): Promise<unknown[]> => (await c.query(sql)).rows;
  return {
    connections: await q('SELECT * FROM mz_catalog.mz_connections ORDER BY id'),
    secrets: await q('SELECT * FROM mz_catalog.mz_secrets ORDER BY id'),
    aws: await q('SELECT * FROM mz_internal.mz_aws_connections ORDER BY id'),
    dependencies: await q('SELECT * FROM mz_internal.mz_object_dependencies ORDER BY 1, 2'),
    roles: await q('SELECT * FROM mz_catalog.mz_roles ORDER BY id'),
    members: await q('SELECT * FROM mz_catalog.mz_role_members ORDER BY 1, 2'),
    schemas: await q('SELECT * FROM mz_catalog.mz_schemas ORDER BY id'),
    defaults: await q('SELECT * FROM mz_catalog.mz_default_privileges ORDER BY 1, 2, 3, 4, 5'),
    system: await q('SELECT * FROM mz_catalog.mz_system_privileges ORDER BY 1'),
  };
}

/** A server for the enclosing describe block: started before its tests, stopped after. */
export function useTestServer(extraFlags: string[] = [], store: StoreKind = 'pglite'): () => TestServer {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startTestServer(extraFlags, undefined, { store });
  });
  afterAll(async () => server?.stop());
  return () => {
    if (!server) throw new Error('the test server has not started');
    return server;
  };
}
