/**
 * Roles' passwords (CREATE/ALTER ROLE ... PASSWORD) and the limits per role and per schema
 * (docs/privileges.md, "Limits"), through real clients.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, errorOf, startTestServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);
const CANARY = 'role-canary-Pw-41c9';
const ADMIN_PASSWORD = 'admin-Pw-8d21';

/** The files under a directory whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if ((await readFile(path)).includes(Buffer.from(needle))) hits.push(path);
  }
  return hits;
}

describe('role passwords under --auth password', () => {
  let dir: string;
  let server: TestServer;
  const connect = async (user: string, password: string): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port: server.port, user, database: 'materialize', password });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const psql = (user: string, password: string) =>
    run('psql', [`postgres://${user}@127.0.0.1:${server.port}/materialize?sslmode=disable`, '-XAtc', 'SELECT current_user'], { env: { ...process.env, PGPASSWORD: password } }).then(
      (r) => r.stdout.trim(),
      (e: { stderr: string }) => e.stderr.trim(),
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iamlink-rolepw-'));
    await writeFile(join(dir, 'bootstrap'), `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
    server = await startTestServer(['--auth', 'password', '--bootstrap-password-file', join(dir, 'bootstrap')]);
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a role made with PASSWORD logs in with it (psql, node-postgres); a wrong one, PASSWORD NULL and NOLOGIN are refused', async () => {
    const admin = await connect('materialize', ADMIN_PASSWORD);
    await admin.query(`CREATE ROLE pw_alice LOGIN PASSWORD '${CANARY}'`);
    expect(await psql('pw_alice', CANARY)).toBe('pw_alice');
    expect(await psql('pw_alice', 'wrong')).toMatch(/FATAL: {2}password authentication failed for user "pw_alice"$/);
    const alice = await connect('pw_alice', CANARY);
    // A role may change its own password, and nothing else about itself.
    await alice.query(`ALTER ROLE pw_alice PASSWORD '${CANARY}-2'`);
    expect((await errorOf(alice.query('ALTER ROLE pw_alice CREATEROLE'))).code).toBe('42501');
    await alice.end();
    expect(await psql('pw_alice', CANARY)).toMatch(/password authentication failed/);
    expect(await psql('pw_alice', `${CANARY}-2`)).toBe('pw_alice');
    await admin.query('ALTER ROLE pw_alice PASSWORD NULL');
    expect((await errorOf(connect('pw_alice', `${CANARY}-2`))).code).toBe('28P01');
    await admin.query(`ALTER ROLE pw_alice PASSWORD '${CANARY}' NOLOGIN`);
    expect((await errorOf(connect('pw_alice', CANARY))).code).toBe('28P01');
    await admin.query('ALTER ROLE pw_alice LOGIN');
    expect(await psql('pw_alice', CANARY)).toBe('pw_alice');
    await admin.end();
  });

  it('keeps a password only as its SCRAM verifier: the canary is in no log line, view or catalog file', async () => {
    const admin = await connect('materialize', ADMIN_PASSWORD);
    await admin.query(`CREATE ROLE pw_canary LOGIN PASSWORD '${CANARY}'`);
    // Also through the extended protocol, and in a statement that fails.
    await admin.query('CREATE ROLE pw_canary2 LOGIN PASSWORD $1', [CANARY]).catch(() => undefined);
    expect((await errorOf(admin.query(`CREATE ROLE pw_canary LOGIN PASSWORD '${CANARY}'`))).code).toBe('42710');
    const views = await admin.query(
      "SELECT (SELECT json_agg(r) FROM mz_roles r)::text || (SELECT json_agg(a) FROM mz_audit_events a)::text || (SELECT json_agg(s) FROM mz_system_privileges s)::text AS all_text",
    );
    expect(views.rows[0].all_text).toContain('pw_canary');
    expect(views.rows[0].all_text).not.toContain(CANARY);
    await admin.end();
    await server.close().catch(() => undefined); // flush: the engine writes its files on close
    expect(await server.logText()).not.toContain(CANARY);
    expect(await filesContaining(server.dataDir, CANARY)).toEqual([]);
    server = await startTestServer(['--auth', 'password', '--bootstrap-password-file', join(dir, 'bootstrap')], server.dataDir);
    expect(await psql('pw_canary', CANARY)).toBe('pw_canary');
  });
});

describe('limits per role and per schema', () => {
  let server: TestServer;
  let hanging: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // An STS endpoint that accepts and never answers: a VALIDATE against it runs until --aws-sts-timeout.
    hanging = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    server = await startTestServer([
      '--max-connections-per-role', '2',
      '--max-validations-per-role', '1',
      '--max-secrets-per-schema', '2',
      '--max-connections-per-schema', '1',
      '--aws-sts-timeout', '1500ms',
    ]);
  });
  afterAll(async () => {
    await server?.stop();
    for (const s of sockets) s.destroy();
    hanging?.close();
  });

  it('--max-connections-per-role: the next session of that role gets FATAL 53300; other roles still log in; a closed one frees its place', async () => {
    const a1 = await server.clientAs('lim_alice', []);
    const a2 = await server.client({ user: 'lim_alice' });
    expect(await errorOf(server.client({ user: 'lim_alice' }))).toMatchObject({ code: '53300', message: 'too many connections for role "lim_alice"' });
    const other = await server.clientAs('lim_bob', []);
    expect((await other.query('SELECT current_user')).rows).toEqual([{ current_user: 'lim_bob' }]);
    await a1.end();
    const a3 = await server.client({ user: 'lim_alice' });
    expect((await a3.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await Promise.all([a2.end(), a3.end(), other.end()]);
  });

  it('--max-secrets-per-schema and --max-connections-per-schema: 53400 in Materialize\'s words, nothing created; room again after a DROP', async () => {
    const c = await server.client();
    await c.query("CREATE SECRET lim_s1 AS 'a'");
    await c.query("CREATE SECRET lim_s2 AS 'b'");
    const before = await catalogSnapshot(c);
    expect(await errorOf(c.query("CREATE SECRET lim_s3 AS 'c'"))).toMatchObject({
      code: '53400',
      message: 'Secret resource limit of 2 cannot be exceeded. Current amount is 2 secrets.',
    });
    expect((await errorOf(c.query("BEGIN; CREATE SECRET lim_s3 AS 'c'; COMMIT"))).code).toBe('53400');
    await c.query('ROLLBACK');
    expect(await catalogSnapshot(c)).toEqual(before);
    await c.query(`CREATE CONNECTION lim_c1 TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET lim_s1, ENDPOINT = 'http://127.0.0.1:${(hanging.address() as { port: number }).port}', REGION = 'us-east-1')`);
    expect((await errorOf(c.query("CREATE CONNECTION lim_c2 TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/C')"))).code).toBe('53400');
    await c.query('DROP SECRET lim_s2');
    await c.query("CREATE SECRET lim_s3 AS 'c'");
    await c.end();
  });

  it('--max-validations-per-role: a second concurrent VALIDATE of the role gets 53400 at once; another role is not held back', async () => {
    const owner = await server.client();
    await owner.query('GRANT USAGE ON CONNECTION lim_c1 TO PUBLIC');
    const [v1, v2] = [await server.clientAs('lim_val', []), await server.clientAs('lim_val', [])];
    const other = await server.clientAs('lim_other', []);
    const first = errorOf(v1.query('VALIDATE CONNECTION lim_c1'));
    await new Promise((r) => setTimeout(r, 200));
    const t = performance.now();
    expect(await errorOf(v2.query('VALIDATE CONNECTION lim_c1'))).toMatchObject({ code: '53400', message: 'too many concurrent validations for role "lim_val"' });
    expect(performance.now() - t).toBeLessThan(1000);
    const second = errorOf(other.query('VALIDATE CONNECTION lim_c1'));
    expect((await first).code).toBe('58000'); // the hanging STS: timed out
    expect((await second).code).toBe('58000'); // ran, rather than refused
    expect((await errorOf(v2.query('VALIDATE CONNECTION lim_c1'))).code).toBe('58000'); // its place is free again
    await Promise.all([owner.end(), v1.end(), v2.end(), other.end()]);
  });
});
