/**
 * The read-only gate, attacked as a class (docs/read-only-gate.md). Every function the engine
 * has that takes text is called with SQL text that would escalate to the engine's superuser,
 * rewind the id counter or write files — through the server (all layers), directly in the
 * engine as a client role (the engine's privileges alone), and with the first two layers
 * weakened on purpose (the state check alone). Afterwards no session is superuser, the catalog
 * is unchanged, no file was written, and no id can be handed out twice.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, errorOf, freshDataDir, startTestServer, type TestServer } from '../support/server.js';

/** SQL text that, run by any function, would break out of the client's read-only role. */
function payloads(dataDir: string): string[] {
  const escalate = "pg_catalog.set_config('role', 'postgres', false)";
  return [
    `SELECT ${escalate}::tsvector`,
    `SELECT ${escalate}::tsquery, 'a'::tsquery`, // ts_rewrite's shape: (target, substitute) rows
    "SELECT pg_catalog.set_config('session_authorization', 'postgres', false)::tsvector",
    "SELECT pg_catalog.set_config('default_transaction_read_only', 'off', false)::tsvector",
    "SELECT pg_catalog.setval('iamlink_internal.item_id_seq', 1)::text::tsvector",
    `SELECT pg_catalog.lo_export(pg_catalog.lo_from_bytea(0, '\\x7077'::bytea), '${dataDir}/pwned')::text::tsvector`,
  ];
}

interface FunctionToAttack {
  readonly name: string;
  /** format_type of each argument. */
  readonly args: readonly string[];
}

/**
 * Every plain function or aggregate in pg_catalog with at least one argument that can carry SQL
 * text, and no argument a SELECT cannot supply (internal, cstring, trigger, ...).
 */
async function functionsTakingText(engine: PGlite): Promise<FunctionToAttack[]> {
  const { rows } = await engine.query<{ name: string; args: string[] }>(`
    SELECT p.proname AS name, array(SELECT pg_catalog.format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, i) ORDER BY i) AS args
      FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'pg_catalog'::regnamespace
       AND p.prokind IN ('f', 'a')
       AND EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[]) t WHERE t IN ('text'::regtype, 'varchar'::regtype, 'name'::regtype, 'bpchar'::regtype, 'anyelement'::regtype, '"any"'::regtype))
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[]) t JOIN pg_catalog.pg_type ty ON ty.oid = t
                        WHERE ty.typtype = 'p' AND t NOT IN ('anyelement'::regtype, '"any"'::regtype))
     ORDER BY 1, 2`);
  return rows;
}

const TEXT_LIKE = new Set(['text', 'character varying', 'name', 'character', 'anyelement', '"any"']);

function callOf(f: FunctionToAttack, payload: string): string {
  const literal = `'${payload.replace(/'/g, "''")}'`;
  const args = f.args.map((t) => (TEXT_LIKE.has(t) ? `${literal}::${t === 'anyelement' || t === '"any"' ? 'text' : t}` : `NULL::${t}`));
  return `SELECT pg_catalog."${f.name}"(${args.join(', ')})`;
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map((f) => join(dir, f));
}

describe('SQL-text functions cannot escape the read-only gate', () => {
  let server: TestServer;
  let attacks: string[];

  beforeAll(async () => {
    server = await startTestServer();
    const engine = await PGlite.create(join(await freshDataDir(), 'catalog'), { database: 'materialize' });
    const fns = await functionsTakingText(engine);
    await engine.close();
    attacks = fns.flatMap((f) => payloads(server.dataDir).map((p) => callOf(f, p)));
  });
  afterAll(async () => server?.stop());

  it('through the server: every call leaves no session superuser, the catalog unchanged, no file written', async () => {
    // The class is what the engine has, not a list we guessed: it must hold the known culprits.
    expect(attacks.some((a) => a.includes('"ts_stat"'))).toBe(true);
    expect(attacks.some((a) => a.includes('"query_to_xml"'))).toBe(true);
    expect(attacks.some((a) => a.includes('"ts_rewrite"'))).toBe(true);
    expect(attacks.length).toBeGreaterThan(2000);

    const owner = await server.client();
    for (const n of [1, 2, 3]) await owner.query(`CREATE SECRET before_attack_${n} AS 'x'`);
    const mallory = await server.clientAs('mallory', []);
    const before = await catalogSnapshot(owner);
    const filesBefore = await filesUnder(server.dataDir);
    const outcomes = new Map<string, number>();
    for (const [i, sql] of attacks.entries()) {
      const code = await mallory.query(sql).then(
        () => 'ok',
        (e: pg.DatabaseError) => e.code ?? 'none',
      );
      outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
      expect(code, sql).not.toBe('XX000');
      const { rows } = await mallory.query("SELECT current_user::text AS u, session_user::text AS s, current_setting('is_superuser') AS su");
      expect(rows[0], sql).toEqual({ u: 'mallory', s: 'mallory', su: 'off' });
      if (i % 500 === 0) {
        const fresh = await server.clientAs('mallory', []);
        expect((await fresh.query("SELECT current_user::text AS u, current_setting('is_superuser') AS su")).rows[0]).toEqual({ u: 'mallory', su: 'off' });
        await fresh.end();
      }
    }
    // The dangerous ones never reach the engine: the gate refuses them (42501).
    expect(outcomes.get('42501')).toBeGreaterThan(0);
    const after = await server.clientAs('mallory', []);
    expect((await after.query("SELECT current_user::text AS u, current_setting('is_superuser') AS su, current_setting('default_transaction_read_only') AS ro")).rows[0]).toEqual({
      u: 'mallory',
      su: 'off',
      ro: 'on',
    });
    expect(await errorOf(after.query('SELECT * FROM iamlink_internal.secrets'))).toMatchObject({ code: '42501' });
    expect(await catalogSnapshot(owner)).toEqual(before);
    expect(await filesUnder(server.dataDir)).toEqual(filesBefore);
    // The id counter was not rewound (setval to 1 would give u2): a new connection gets a fresh id.
    await owner.query("CREATE CONNECTION after_attack TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::123456789012:role/c')");
    const { rows } = await owner.query("SELECT id FROM mz_connections WHERE name = 'after_attack'");
    expect(rows[0].id).toBe('u4');
  }, 300_000);
});

describe('the gate alone refuses functions off its allow-list', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.stop());

  it('answers with its own hint before the engine sees the call, for every schema', async () => {
    const c = await server.client();
    for (const sql of ["SELECT set_config('role', 'postgres', false)", 'SELECT public.anything()', 'SELECT iamlink_internal.record_issued_id()', "SELECT pg_catalog.lo_import('/etc/passwd')"]) {
      const err = await errorOf(c.query(sql));
      expect(err, sql).toMatchObject({ code: '42501' });
      // The engine's own refusal has no hint; the gate's names what client queries may do.
      expect(err.hint, sql).toContain('Client queries may read the catalog');
      expect(err.message, sql).toMatch(/^permission denied for function /);
    }
    expect((await c.query("SELECT length('ok') AS n, pg_catalog.upper('x') AS u")).rows).toEqual([{ n: 2, u: 'X' }]);
  });
});

describe('the engine alone refuses the class to client roles', () => {
  let engine: PGlite;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await freshDataDir();
    engine = await PGlite.create(join(dataDir, 'catalog'), { database: 'materialize' });
    await engine.exec('CREATE ROLE attacker NOLOGIN IN ROLE iamlink_reader');
  });
  afterAll(async () => engine?.close());

  it('no volatile function outside the short allow-list, and no *_to_xml function, is executable by the reader', async () => {
    const { rows } = await engine.query<{ name: string }>(`
      SELECT DISTINCT p.proname AS name FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'pg_catalog'::regnamespace
         AND (p.provolatile = 'v' OR p.proname LIKE '%\\_to\\_xml%')
         AND pg_catalog.has_function_privilege('iamlink_reader', p.oid, 'EXECUTE')
         AND p.prorettype NOT IN ('trigger'::regtype, 'language_handler'::regtype, 'index_am_handler'::regtype, 'table_am_handler'::regtype, 'tsm_handler'::regtype, 'fdw_handler'::regtype)
       ORDER BY 1`);
    expect(rows.map((r) => r.name)).toEqual([
      'array_sample',
      'array_shuffle',
      'clock_timestamp',
      'gen_random_uuid',
      'pg_database_size',
      'pg_indexes_size',
      'pg_is_in_recovery',
      'pg_jit_available',
      'pg_relation_size',
      'pg_table_size',
      'pg_tablespace_size',
      'pg_total_relation_size',
      'random',
      'random_normal',
      'timeofday',
      'uuidv4',
      'uuidv7',
    ]);
  });

  it('functions that spend transaction ids, and views of other sessions\' statements, are not the reader\'s', async () => {
    const { rows } = await engine.query<{ f: boolean; p: boolean; c: boolean }>(`
      SELECT pg_catalog.has_function_privilege('iamlink_reader', 'pg_catalog.txid_current()', 'EXECUTE')
          OR pg_catalog.has_function_privilege('iamlink_reader', 'pg_catalog.pg_current_xact_id()', 'EXECUTE') AS f,
             pg_catalog.has_table_privilege('iamlink_reader', 'pg_catalog.pg_prepared_statements', 'SELECT') AS p,
             pg_catalog.has_table_privilege('iamlink_reader', 'pg_catalog.pg_cursors', 'SELECT') AS c`);
    expect(rows[0]).toEqual({ f: false, p: false, c: false });
  });

  it('every text-taking function, called by a client role with escalating SQL, leaves it unprivileged', async () => {
    const fns = await functionsTakingText(engine);
    await engine.exec('SET SESSION AUTHORIZATION attacker');
    let refused = 0;
    for (const f of fns) {
      for (const payload of payloads(dataDir)) {
        await engine.query(callOf(f, payload)).catch((e: { code?: string }) => {
          if (e.code === '42501') refused++;
        });
        const { rows } = await engine.query<{ u: string; su: string }>("SELECT current_user::text AS u, current_setting('is_superuser') AS su");
        expect(rows[0], `${f.name}(${f.args.join(', ')})`).toEqual({ u: 'attacker', su: 'off' });
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect((await filesUnder(dataDir)).some((f) => f.endsWith('pwned'))).toBe(false);
  }, 300_000);
});

describe('the state check alone catches a read that changed the session', () => {
  let server: TestServer;

  beforeAll(async () => {
    // Weaken the other two layers on purpose: the reader may now run set_config, so the engine
    // allows it and the gate (which mirrors the engine's privileges) lets it through.
    const dataDir = await freshDataDir();
    const engine = await PGlite.create(join(dataDir, 'catalog'), { database: 'materialize' });
    await engine.exec('GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) TO iamlink_reader');
    await engine.close();
    server = await startTestServer([], dataDir);
  });
  afterAll(async () => server?.stop());

  it('fails the read with 42501, resets the engine session, and later sessions are as iamlink set them', async () => {
    const c = await server.clientAs('mallory', []);
    for (const [setting, value] of [
      ['session_authorization', 'postgres'],
      ['default_transaction_read_only', 'off'],
      ['search_path', 'iamlink_internal'],
      ['statement_timeout', '0'],
    ]) {
      const err = await errorOf(c.query(`SELECT set_config('${setting}', '${value}', false)`));
      expect(err, setting).toMatchObject({ code: '42501', message: "permission denied: the query changed the session's role or settings" });
      const { rows } = await c.query("SELECT session_user::text AS s, current_setting('is_superuser') AS su, current_setting('default_transaction_read_only') AS ro");
      expect(rows[0], setting).toEqual({ s: 'mallory', su: 'off', ro: 'on' });
    }
    const other = await server.client();
    expect(await errorOf(other.query('SELECT * FROM iamlink_internal.secrets'))).toMatchObject({ code: '42501' });
  });
});

describe('ids, and so external ids, are never handed out twice', () => {
  it('the schema refuses to forget or reuse an issued id', async () => {
    const server = await startTestServer();
    const c = await server.client();
    await c.query("CREATE CONNECTION first TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::123456789012:role/c')");
    const { rows } = await c.query("SELECT id, external_id FROM mz_internal.mz_aws_connections aws JOIN mz_connections USING (id) WHERE name = 'first'");
    const { id, external_id: externalId } = rows[0];
    await c.query('DROP CONNECTION first');
    const dataDir = server.dataDir;
    await server.close();
    const engine = await PGlite.create(join(dataDir, 'catalog'), { database: 'materialize' });
    try {
      expect((await engine.query('SELECT external_id FROM iamlink_internal.issued_ids WHERE id = $1', [id])).rows).toEqual([{ external_id: externalId }]);
      await expect(engine.query('DELETE FROM iamlink_internal.issued_ids')).rejects.toMatchObject({ code: '55000' });
      await expect(engine.query('TRUNCATE iamlink_internal.issued_ids')).rejects.toMatchObject({ code: '55000' });
      await expect(engine.query("UPDATE iamlink_internal.issued_ids SET external_id = 'x'")).rejects.toMatchObject({ code: '55000' });
      // Even the engine's superuser cannot put an item back under a dropped connection's id.
      await expect(
        engine.query("INSERT INTO iamlink_internal.items (id, oid, kind, schema_id, name, owner_id) VALUES ($1, 99999, 'connection', 'u3', 'again', 'u1')", [id]),
      ).rejects.toMatchObject({ code: '23505' });
    } finally {
      await engine.close();
    }
  });

  it('an external id shown inside a rolled-back transaction is recorded, and never given again', async () => {
    const server = await startTestServer();
    const c = await server.client();
    await c.query('BEGIN');
    await c.query("CREATE CONNECTION shown TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::123456789012:role/c')");
    const { rows } = await c.query("SELECT id, external_id FROM mz_internal.mz_aws_connections aws JOIN mz_connections USING (id) WHERE name = 'shown'");
    await c.query('ROLLBACK');
    await c.query("CREATE CONNECTION shown TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::123456789012:role/c')");
    const again = await c.query("SELECT id, external_id FROM mz_internal.mz_aws_connections aws JOIN mz_connections USING (id) WHERE name = 'shown'");
    expect(again.rows[0].external_id).not.toBe(rows[0].external_id);
    const dataDir = server.dataDir;
    await server.close();
    const engine = await PGlite.create(join(dataDir, 'catalog'), { database: 'materialize' });
    try {
      const issued = await engine.query('SELECT id, external_id, used FROM iamlink_internal.issued_ids WHERE id IN ($1, $2) ORDER BY id', [rows[0].id, again.rows[0].id]);
      expect(issued.rows).toEqual([
        { id: rows[0].id, external_id: rows[0].external_id, used: false },
        { id: again.rows[0].id, external_id: again.rows[0].external_id, used: true },
      ]);
      await expect(engine.query('UPDATE iamlink_internal.issued_ids SET used = false WHERE id = $1', [again.rows[0].id])).rejects.toMatchObject({ code: '55000' });
    } finally {
      await engine.close();
    }
  });

  it('a server refuses to start on a catalog whose id counter was rewound', async () => {
    const server = await startTestServer();
    const c = await server.client();
    for (const n of [1, 2, 3]) await c.query(`CREATE SECRET s${n} AS 'x'`);
    const dataDir = server.dataDir;
    await server.close();
    const engine = await PGlite.create(join(dataDir, 'catalog'), { database: 'materialize' });
    await engine.query("SELECT setval('iamlink_internal.item_id_seq', 1)");
    await engine.close();
    await expect(startTestServer([], dataDir)).rejects.toThrow(/id counter would issue u2 next, but ids up to u\d+ .* were already issued/);
  });
});
