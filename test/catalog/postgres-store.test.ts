/** What only the shared PostgreSQL store does: its client role, engine roles, verifiers, sessions it loses. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { scramSha256Verifier } from '../../src/secrets/scram-verifier.js';
import { errorOf, freshSharedCatalog, startTestServer, type TestServer } from '../support/server.js';

describe('the shared PostgreSQL store', () => {
  let server: TestServer;
  let admin: pg.Client;
  beforeAll(async () => {
    server = await startTestServer([], undefined, { store: 'postgres' });
    admin = new pg.Client(server.config.catalogUrl);
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await server?.stop();
  });

  it("stores the client role's password as the SCRAM verifier PostgreSQL itself would compute", async () => {
    await admin.query("SET password_encryption = 'scram-sha-256'");
    await admin.query("CREATE ROLE verifier_probe PASSWORD 'correct horse'");
    try {
      const { rows } = await admin.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'verifier_probe'");
      const stored = rows[0].rolpassword as string;
      const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored)!;
      expect(scramSha256Verifier('correct horse', Buffer.from(m[2]!, 'base64'), Number(m[1]))).toBe(stored);
      expect(scramSha256Verifier('wrong horse', Buffer.from(m[2]!, 'base64'), Number(m[1]))).not.toBe(stored);
    } finally {
      await admin.query('DROP ROLE verifier_probe');
    }
  });

  it('client sessions log in as a restricted role of this catalog: no superuser, no iamlink_internal', async () => {
    const { rows } = await admin.query(
      `SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, a.rolpassword LIKE 'SCRAM-SHA-256$%' AS verifier,
              pg_has_role(r.oid, 'iamlink_reader', 'MEMBER') AS reader,
              has_schema_privilege(r.oid, 'iamlink_internal', 'USAGE') AS internal
         FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname LIKE 'iamlink_client_%'
          AND r.rolname = 'iamlink_client_' || left(encode(sha256(convert_to(current_database(), 'UTF8')), 'hex'), 12)`,
    );
    expect(rows).toEqual([{ rolname: expect.any(String), rolcanlogin: true, rolsuper: false, rolcreaterole: false, rolcreatedb: false, verifier: true, reader: true, internal: false }]);
    const c = await server.clientAs('store_probe_user', []);
    expect((await c.query('SELECT current_user AS u, session_user AS s')).rows).toEqual([{ u: 'store_probe_user', s: rows[0].rolname }]);
    const role = await admin.query("SELECT rolcanlogin, pg_has_role($1, 'store_probe_user', 'MEMBER') AS granted FROM pg_roles WHERE rolname = 'store_probe_user'", [rows[0].rolname]);
    expect(role.rows).toEqual([{ rolcanlogin: false, granted: true }]);
  });

  it('refuses to create a role whose name belongs to a role with more rights on the database server', async () => {
    await admin.query('CREATE ROLE store_probe_admin LOGIN CREATEDB');
    try {
      const owner = await server.client();
      const err = await errorOf(owner.query('CREATE ROLE store_probe_admin LOGIN'));
      expect(err).toMatchObject({ code: '42939', message: 'role name "store_probe_admin" is reserved' });
      expect((await owner.query("SELECT count(*)::int AS n FROM mz_roles WHERE name = 'store_probe_admin'")).rows[0].n).toBe(0);
      const membership = await admin.query("SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE r.rolname = 'store_probe_admin'");
      expect(membership.rows[0].n).toBe(0);
    } finally {
      await admin.query('DROP ROLE store_probe_admin');
    }
  });

  it('a session the database ends (pg_terminate_backend) fails that read at most, and the next ones work', async () => {
    const c = await server.client();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
    const outcomes: string[] = [];
    for (let i = 0; i < 25; i++) {
      outcomes.push(await c.query("SELECT count(*)::int AS n FROM mz_connections").then(() => 'ok', (e: pg.DatabaseError) => e.code ?? 'no code'));
    }
    // Pooled sessions that were idle fail their next use once each; never a crash, never another error.
    expect(outcomes.every((o) => o === 'ok' || o === '57P01' || o === '08006')).toBe(true);
    expect(outcomes.slice(-5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    await c.query("CREATE SECRET after_terminate AS 'x'");
    expect((await c.query("SELECT name FROM mz_secrets WHERE name = 'after_terminate'")).rows).toEqual([{ name: 'after_terminate' }]);
  });
});

describe('the shared store on a server where PUBLIC may execute a volatile function', () => {
  it('still refuses it in client queries (the gate allows volatile functions only when granted by name)', async () => {
    const catalog = await freshSharedCatalog();
    const admin = new pg.Client(catalog.url);
    await admin.connect();
    // As on a managed server where the catalog's role could not revoke it from PUBLIC.
    await admin.query('GRANT EXECUTE ON FUNCTION pg_advisory_lock(bigint) TO PUBLIC');
    await admin.end();
    const server = await startTestServer(['--catalog-url', catalog.url, '--secrets-key-file', catalog.keyFile]);
    try {
      const c = await server.client();
      const err = await errorOf(c.query('SELECT pg_advisory_lock(7236117901)'));
      expect(err).toMatchObject({ code: '42501', message: 'permission denied for function pg_advisory_lock' });
      expect((await c.query('SELECT random() < 2 AS granted')).rows).toEqual([{ granted: true }]);
    } finally {
      await server.stop();
      await catalog.drop();
    }
  });
});

describe('the shared store against a hostile or unusual catalog server (found by the independent review)', () => {
  /** A fresh empty database on the run's server, its URL as `user`, and a way to drop it. */
  async function emptyDatabase(owner?: string): Promise<{ url: string; drop(): Promise<void> }> {
    const name = `iamlink_r_${Math.random().toString(16).slice(2, 10)}`;
    const admin = new pg.Client(inject('postgresUrl'));
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}${owner ? ` OWNER ${owner}` : ''}`);
    await admin.end();
    const u = new URL(inject('postgresUrl'));
    u.pathname = `/${name}`;
    if (owner) u.username = owner;
    return {
      url: u.toString(),
      drop: async () => {
        const c = new pg.Client(inject('postgresUrl'));
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => c.end());
      },
    };
  }

  it("a client's setting cannot inject SQL even where standard_conforming_strings is off by default", async () => {
    const catalog = await freshSharedCatalog();
    const admin = new pg.Client(catalog.url);
    await admin.connect();
    await admin.query(`ALTER DATABASE ${new URL(catalog.url).pathname.slice(1)} SET standard_conforming_strings = off`);
    const server = await startTestServer(['--catalog-url', catalog.url, '--secrets-key-file', catalog.keyFile]);
    try {
      const c = await server.clientAs('mallory');
      await c.query("SET application_name = 'x\\'; COMMIT; ALTER ROLE mallory SUPERUSER; --'").catch(() => undefined);
      expect((await c.query("SELECT current_setting('application_name') AS a")).rows).toHaveLength(1);
      const { rows } = await admin.query("SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'");
      expect(rows).toEqual([{ rolsuper: false }]);
    } finally {
      await admin.end();
      await server.stop();
      await catalog.drop();
    }
  });

  it('starts on a database owned by a role that is no superuser (a managed server), still refusing what it could not revoke', async () => {
    const admin = new pg.Client(inject('postgresUrl'));
    await admin.connect();
    const owner = `iamlink_owner_${Math.random().toString(16).slice(2, 8)}`;
    await admin.query(`CREATE ROLE ${owner} LOGIN CREATEROLE`);
    const db = await emptyDatabase(owner);
    const server = await startTestServer(['--catalog-url', db.url, '--secrets-key-file', inject('sharedKeyFile'), '--catalog-pool-size', '1']);
    try {
      const c = await server.client();
      await c.query("CREATE CONNECTION managed TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/C')");
      expect((await c.query("SELECT name FROM mz_connections")).rows).toEqual([{ name: 'managed' }]);
      expect(await errorOf(c.query('SELECT pg_advisory_lock(1)'))).toMatchObject({ code: '42501' });
      expect(await errorOf(c.query('SELECT name, statement FROM pg_prepared_statements'))).toMatchObject({ code: '42501', message: 'permission denied for view pg_prepared_statements' });
      expect(await errorOf(c.query('SELECT * FROM pg_catalog.pg_cursors'))).toMatchObject({ code: '42501' });
    } finally {
      await server.stop();
      await db.drop();
      await admin.query(`DROP OWNED BY ${owner}; DROP ROLE ${owner}`).catch(() => undefined);
      await admin.end();
    }
  });

  it('never prints a password given in the URL, in its user part or as a parameter', async () => {
    const catalog = await freshSharedCatalog();
    const withPassword = new URL(catalog.url);
    withPassword.password = 'pw-in-userinfo';
    withPassword.searchParams.set('password', 'pw-in-query');
    const server = await startTestServer(['--catalog-url', withPassword.toString(), '--secrets-key-file', catalog.keyFile]);
    try {
      expect(server.catalog).not.toMatch(/pw-in/);
      expect(server.catalog).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/iamlink_t_/);
      expect(await server.logText()).not.toMatch(/pw-in/);
    } finally {
      await server.stop();
      await catalog.drop();
    }
  });

  it('a read inside a transaction that changes the catalog runs as the client, not as the catalog role', async () => {
    const server = await startTestServer([], undefined, { store: 'postgres' });
    try {
      const c = await server.clientAs('pending_reader');
      await c.query('BEGIN');
      await c.query("CREATE SECRET staged AS 'v'");
      const { rows } = await c.query('SELECT current_user AS u, session_user AS s, (SELECT count(*)::int FROM mz_secrets WHERE name = $1) AS n', ['staged']);
      expect(rows).toEqual([{ u: 'pending_reader', s: 'pending_reader', n: 1 }]);
      expect(await errorOf(c.query('SELECT count(*) FROM iamlink_internal.secrets'))).toMatchObject({ code: '42501' });
      await c.query('ROLLBACK');
    } finally {
      await server.stop();
    }
  });
});
