/**
 * Helpers for the multi-node tests (issue 9): iamlink nodes as child processes (the built
 * dist/main.js) sharing one PostgreSQL catalog, and clients to them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startChild, type ChildServer } from '../support/child-server.js';

export const JUMP_ROLE_ARN = 'arn:aws:iam::123456789012:role/iamlink-jump';

/** The flags every node of a shared catalog is started with. */
export function nodeArgs(catalogUrl: string, keyFile: string, extra: string[] = []): string[] {
  return ['--catalog-url', catalogUrl, '--secrets-key-file', keyFile, '--listen', '127.0.0.1:0', '--aws-connection-role-arn', JUMP_ROLE_ARN, '--log-level', 'warn', ...extra];
}

/** Nodes and clients a test file started, so that afterAll can stop them all. */
export class Fleet {
  private readonly nodes = new Set<ChildServer>();
  private readonly clients = new Set<pg.Client>();

  async start(catalogUrl: string, keyFile: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
    const node = await startChild(nodeArgs(catalogUrl, keyFile, extra), env);
    this.track(node);
    return node;
  }

  track(node: ChildServer): void {
    this.nodes.add(node);
    let err = '';
    node.process.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    stderrs.set(node, () => err);
  }

  async connect(node: ChildServer): Promise<pg.Client> {
    const c = new pg.Client(node.url);
    c.on('error', () => undefined);
    await c.connect();
    this.clients.add(c);
    return c;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(node: ChildServer, graceMs = 3000): Promise<void> {
    this.nodes.delete(node);
    await stopNode(node, graceMs);
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.clients].map((c) => c.end()));
    this.clients.clear();
    await Promise.allSettled([...this.nodes].map((n) => stopNode(n)));
    this.nodes.clear();
  }
}

const stderrs = new WeakMap<ChildServer, () => string>();

/** What a node started through a Fleet wrote to stderr since it started listening. */
export function stderrOf(node: ChildServer): string {
  return stderrs.get(node)?.() ?? '';
}

/** 'alive', or how the node ended and what it wrote to stderr (for assertion messages). */
export function lifeOf(node: ChildServer, name: string): string {
  if (isAlive(node)) return `${name}: alive`;
  return `${name}: exited (${node.process.exitCode ?? node.process.signalCode}): ${stderrOf(node).trim().split('\n').slice(0, 6).join(' | ')}`;
}

export async function stopNode(node: ChildServer, graceMs = 3000): Promise<void> {
  if (!isAlive(node)) return;
  node.process.kill('SIGTERM');
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
  if ((await Promise.race([node.exited, timer])) === 'timeout') {
    node.process.kill('SIGKILL');
    await node.exited;
  }
}

export function isAlive(node: ChildServer): boolean {
  return node.process.exitCode === null && node.process.signalCode === null;
}

/** A superuser session on a catalog database that reads the system views as the nodes' clients do. */
export async function directCatalogClient(catalogUrl: string): Promise<pg.Client> {
  const c = await connectTo(catalogUrl);
  await c.query('SET search_path = mz_catalog, mz_internal, pg_catalog');
  return c;
}

/** A client that never throws on its own 'error' event (a node or server going away). */
export async function connectTo(url: string): Promise<pg.Client> {
  const c = new pg.Client(url);
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** A fresh, valid secrets key file (64 hex characters) in a temporary directory of its own. */
export async function tempKeyFile(hexByte?: string): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'iamlink-key-'));
  const path = join(dir, 'secrets.key');
  await writeFile(path, `${hexByte ? hexByte.repeat(32) : randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** An empty database on the server at `adminUrl` (a superuser URL); returns its URL and a drop. */
export async function emptyDatabase(adminUrl: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `iamlink_mn_${randomBytes(6).toString('hex')}`;
  const admin = await connectTo(adminUrl);
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    drop: async () => {
      const c = await connectTo(adminUrl);
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        // The login role the nodes created for this database's client reads (roles are the server's).
        const role = `iamlink_client_${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
        await c.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
      } finally {
        await c.end();
      }
    },
  };
}

/** The SQLSTATE of a failed promise, or 'ok'. Errors without a SQLSTATE come back as 'no-sqlstate: <message>'. */
export async function outcome(p: Promise<unknown>): Promise<string> {
  return (await outcomeWithMessage(p)).result;
}

/** Like `outcome`, with the error's message (and detail) for reports. */
export async function outcomeWithMessage(p: Promise<unknown>): Promise<{ result: string; message?: string }> {
  try {
    await p;
    return { result: 'ok' };
  } catch (err) {
    const e = err as { code?: string; message?: string; detail?: string };
    const message = `${e.message}${e.detail ? ` (${e.detail})` : ''}`;
    return { result: e.code && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : `no-sqlstate: ${e.message}`, message };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rows of a query as plain objects. */
export async function rows<R = Record<string, unknown>>(c: pg.Client, sql: string, params: unknown[] = []): Promise<R[]> {
  return (await c.query(sql, params)).rows as R[];
}

/** Numeric part of an item id (u12 → 12). */
export const idNumber = (id: string): number => {
  const m = /^u(\d+)$/.exec(id);
  if (!m) throw new Error(`not an item id: ${id}`);
  return Number(m[1]);
};

/**
 * Broken references, as a node's client sees the catalog: connections without their
 * mz_aws_connections row, definitions naming secrets that are not there or not recorded as
 * dependencies, and dependencies on items that do not exist. Empty when consistent.
 */
export async function catalogInconsistencies(c: pg.Client): Promise<string[]> {
  const problems: string[] = [];
  const q = async (label: string, sql: string) => {
    for (const r of await rows(c, sql)) problems.push(`${label}: ${JSON.stringify(r)}`);
  };
  await q('connection without mz_aws_connections row', 'SELECT c.id, c.name FROM mz_connections c LEFT JOIN mz_internal.mz_aws_connections a USING (id) WHERE a.id IS NULL');
  await q('mz_aws_connections row without connection', 'SELECT a.id FROM mz_internal.mz_aws_connections a LEFT JOIN mz_connections c USING (id) WHERE c.id IS NULL');
  await q(
    'connection refers to a missing secret',
    `SELECT a.id, s.ref FROM mz_internal.mz_aws_connections a,
            LATERAL (VALUES (a.secret_access_key_secret_id), (a.access_key_id_secret_id), (a.session_token_secret_id)) s(ref)
      WHERE s.ref IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mz_secrets x WHERE x.id = s.ref)`,
  );
  await q(
    'secret reference without dependency row',
    `SELECT a.id, s.ref FROM mz_internal.mz_aws_connections a,
            LATERAL (VALUES (a.secret_access_key_secret_id), (a.access_key_id_secret_id), (a.session_token_secret_id)) s(ref)
      WHERE s.ref IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM mz_internal.mz_object_dependencies d WHERE d.object_id = a.id AND d.referenced_object_id = s.ref)`,
  );
  await q(
    'dependency on or of a missing item',
    `SELECT d.* FROM mz_internal.mz_object_dependencies d
      WHERE NOT EXISTS (SELECT 1 FROM mz_objects o WHERE o.id = d.object_id)
         OR NOT EXISTS (SELECT 1 FROM mz_objects o WHERE o.id = d.referenced_object_id)`,
  );
  return problems;
}
