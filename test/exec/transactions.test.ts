/**
 * Catalog changes in a transaction — a multi-statement Query string (implicit) or BEGIN ...
 * COMMIT (explicit) — apply all together or not at all, and the transaction reads its own
 * changes with the ids COMMIT will keep.
 */
import { connect } from 'node:net';
import { serialize } from 'pg-protocol';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { catalogSnapshot, errorOf, useTestServer } from '../support/server.js';
import { seededRandom } from '../support/random.js';

const ROLE = (n: string): string => `arn:aws:iam::123456789012:role/${n}`;

describe('a multi-statement Query string is one implicit transaction', () => {
  const server = useTestServer();

  it('a syntax error after a CREATE leaves nothing behind', async () => {
    const c = await server().client();
    const before = await catalogSnapshot(c);
    expect(await errorOf(c.query("CREATE SECRET half AS 'x'; SELEC 1"))).toMatchObject({ code: '42601' });
    expect(await catalogSnapshot(c)).toEqual(before);
  });

  it('an engine error after a CREATE leaves nothing behind', async () => {
    const c = await server().client();
    const before = await catalogSnapshot(c);
    expect(await errorOf(c.query("SELECT 1; CREATE SECRET m AS 'm'; SELECT 1/0"))).toMatchObject({ code: '22012' });
    expect(await catalogSnapshot(c)).toEqual(before);
  });

  it('later statements are planned against earlier ones, and reads see them with the ids COMMIT keeps', async () => {
    const c = await server().client();
    const results = (await c.query(
      `CREATE SECRET tx_key AS 'k';
       CREATE CONNECTION tx_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET tx_key);
       CREATE CONNECTION tx_role TO AWS (ASSUME ROLE ARN = '${ROLE('tx')}');
       SELECT c.id, aws.external_id FROM mz_internal.mz_aws_connections aws JOIN mz_connections c USING (id) WHERE c.name = 'tx_role'`,
    )) as unknown as { rows: { id: string; external_id: string }[] }[];
    const seen = results[3]!.rows[0]!;
    const { rows } = await c.query("SELECT c.id, aws.external_id FROM mz_internal.mz_aws_connections aws JOIN mz_connections c USING (id) WHERE c.name = 'tx_role'");
    expect(rows).toEqual([seen]);
    expect((await c.query("SELECT referenced_object_id FROM mz_internal.mz_object_dependencies d JOIN mz_connections c ON c.id = d.object_id WHERE c.name = 'tx_keys'")).rows).toHaveLength(1);
    await c.query('DROP CONNECTION tx_keys, tx_role; DROP SECRET tx_key');
  });

  it('a failure at any position in a random mix of statements changes nothing', async () => {
    const c = await server().client();
    const random = seededRandom(Number(process.env.FUZZ_SEED ?? 7));
    const valid = (i: number, n: number): string =>
      [
        `CREATE SECRET mix_${i}_${n} AS 'v${n}'`,
        `CREATE CONNECTION mix_c_${i}_${n} TO AWS (ASSUME ROLE ARN = '${ROLE(`r${n}`)}')`,
        `ALTER SECRET mix_base AS 'changed_${n}'`,
        `ALTER CONNECTION mix_conn SET (REGION = 'eu-west-${1 + (n % 3)}')`,
        'SELECT count(*) FROM mz_connections',
        "ALTER SECRET mix_base RENAME TO mix_renamed; ALTER SECRET mix_renamed RENAME TO mix_base",
      ][n % 6]!;
    const failing = ['SELEC 1', 'SELECT 1/0', "CREATE SECRET mix_base AS 'dup'", 'DROP SECRET missing_one', "INSERT INTO mz_secrets VALUES ('x')", "SELECT set_config('role', 'postgres', false)"];
    await c.query(`CREATE SECRET mix_base AS 'base'; CREATE CONNECTION mix_conn TO AWS (ASSUME ROLE ARN = '${ROLE('base')}')`);
    const before = await catalogSnapshot(c);
    for (let i = 0; i < 40; i++) {
      const statements = Array.from({ length: 1 + Math.floor(random() * 6) }, (_, k) => valid(i, Math.floor(random() * 100) + k));
      statements.splice(Math.floor(random() * (statements.length + 1)), 0, failing[i % failing.length]!);
      const sql = statements.join('; ');
      await errorOf(c.query(sql));
      expect(await catalogSnapshot(c), sql).toEqual(before);
    }
  });
});

describe('BEGIN ... COMMIT', () => {
  const server = useTestServer(['--max-transaction-changes', '3']);

  it('keeps the search_path each change was planned with, and caps the changes one transaction holds', async () => {
    const c = await server().client();
    await c.query('BEGIN');
    await c.query("CREATE SECRET path_kept AS 'x'");
    await c.query('SET search_path = mz_catalog');
    await c.query('COMMIT');
    await c.query('RESET search_path');
    expect((await c.query("SELECT schema_id FROM mz_secrets WHERE name = 'path_kept'")).rows).toHaveLength(1);
    await c.query('BEGIN');
    for (const n of [1, 2, 3]) await c.query(`CREATE SECRET capped_${n} AS 'x'`);
    expect(await errorOf(c.query("CREATE SECRET capped_4 AS 'x'"))).toMatchObject({ code: '54000', message: 'a transaction may hold at most 3 catalog changes' });
    await c.query('ROLLBACK');
    expect(await errorOf(c.query("CREATE SECRET m1 AS 'x'; CREATE SECRET m2 AS 'x'; CREATE SECRET m3 AS 'x'; CREATE SECRET m4 AS 'x'"))).toMatchObject({ code: '54000' });
    expect((await c.query("SELECT count(*)::int AS n FROM mz_secrets WHERE name LIKE 'capped_%' OR name LIKE 'm_'")).rows).toEqual([{ n: 0 }]);
  });

  it('a concurrent commit that takes a name makes the later COMMIT fail with 40001 and apply nothing', async () => {
    const a = await server().client();
    const b = await server().client();
    await a.query('BEGIN');
    await a.query("CREATE SECRET race_other AS 'a'");
    await a.query("CREATE SECRET race AS 'a'");
    await b.query("CREATE SECRET race AS 'b'");
    const err = await errorOf(a.query('COMMIT'));
    expect(err).toMatchObject({ code: '40001' });
    expect(err.detail).toContain('CREATE SECRET');
    expect((await b.query("SELECT name FROM mz_secrets WHERE name LIKE 'race%' ORDER BY 1")).rows).toEqual([{ name: 'race' }]);
    // The failed COMMIT ended the transaction.
    expect((await a.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('an error inside the block makes COMMIT roll back', async () => {
    const c = await server().client();
    const before = await catalogSnapshot(c);
    await c.query('BEGIN');
    await c.query("CREATE SECRET doomed AS 'x'");
    await errorOf(c.query('SELECT 1/0'));
    expect(await errorOf(c.query("CREATE SECRET doomed_too AS 'x'"))).toMatchObject({ code: '25P02' });
    const result = await c.query('COMMIT');
    expect(result.command).toBe('ROLLBACK');
    expect(await catalogSnapshot(c)).toEqual(before);
  });

  it('errors come at the statement, planned against the pending changes', async () => {
    const c = await server().client();
    await c.query('BEGIN');
    await c.query("CREATE SECRET planned AS 'x'");
    expect(await errorOf(c.query("CREATE SECRET planned AS 'y'"))).toMatchObject({ code: '42710' });
    await c.query('ROLLBACK');
    await c.query('BEGIN');
    await c.query("CREATE SECRET planned AS 'x'");
    await c.query("CREATE CONNECTION uses_planned TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET planned)");
    await c.query('SAVEPOINT s').catch(() => undefined); // refused with pending changes: no savepoints
    expect(await errorOf(c.query('DROP SECRET planned'))).toMatchObject({ code: '25P02' });
    expect((await c.query('COMMIT')).command).toBe('ROLLBACK');
    await c.query('BEGIN');
    await c.query("CREATE SECRET planned AS 'x'");
    await c.query("CREATE CONNECTION uses_planned TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET planned)");
    await c.query('COMMIT');
    expect((await c.query("SELECT name FROM mz_connections WHERE name = 'uses_planned'")).rows).toHaveLength(1);
    await c.query('BEGIN');
    expect(await errorOf(c.query('DROP SECRET planned'))).toMatchObject({ code: '2BP01' });
    await c.query('ROLLBACK');
  });
});

describe('cancel inside a transaction', () => {
  const server = useTestServer();

  it("a CancelRequest landing anywhere in a transaction's read leaves other sessions' work intact", async () => {
    const a = await server().client();
    const b = await server().client();
    const cancel = (target: pg.Client): Promise<void> =>
      new Promise((resolve) => {
        const { processID, secretKey } = target as unknown as { processID: number; secretKey: number };
        const socket = connect(server().port, server().host, () => socket.end(serialize.cancel(processID, secretKey)));
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
    for (let round = 0; round < 12; round++) {
      await a.query('BEGIN');
      for (let i = 0; i < 15; i++) await a.query(`CREATE SECRET cancel_${round}_${i} AS 'x'`);
      const read = a.query('SELECT count(*) FROM mz_secrets').catch((e: pg.DatabaseError) => e);
      await new Promise((r) => setTimeout(r, round % 4));
      await cancel(a);
      await read;
      await a.query('ROLLBACK');
      // The other session's catalog work and reads are unaffected, and see nothing of A's.
      await b.query(`CREATE SECRET other_${round} AS 'y'`);
      expect((await b.query("SELECT count(*)::int AS n FROM mz_secrets WHERE name LIKE 'cancel_%'")).rows).toEqual([{ n: 0 }]);
    }
    expect((await b.query("SELECT count(*)::int AS n FROM mz_secrets WHERE name LIKE 'other_%'")).rows).toEqual([{ n: 12 }]);
  });
});

describe('read-only transactions and sessions', () => {
  const server = useTestServer();

  it('refuse catalog changes with 25006, and say so in transaction_read_only', async () => {
    const c = await server().client();
    const before = await catalogSnapshot(c);
    await c.query('BEGIN READ ONLY');
    expect((await c.query('SHOW transaction_read_only')).rows).toEqual([{ transaction_read_only: 'on' }]);
    expect(await errorOf(c.query("CREATE SECRET ro_1 AS 'x'"))).toMatchObject({ code: '25006', message: 'cannot execute CREATE SECRET in a read-only transaction' });
    await c.query('ROLLBACK');
    await c.query('BEGIN');
    await c.query('SET TRANSACTION READ ONLY');
    expect(await errorOf(c.query('DROP SECRET IF EXISTS nothing'))).toMatchObject({ code: '25006' });
    await c.query('ROLLBACK');
    await c.query('SET default_transaction_read_only = on');
    expect((await c.query('SHOW transaction_read_only')).rows).toEqual([{ transaction_read_only: 'on' }]);
    expect(await errorOf(c.query("CREATE SECRET ro_2 AS 'x'"))).toMatchObject({ code: '25006' });
    await c.query('BEGIN READ WRITE');
    await c.query("CREATE SECRET ro_3 AS 'x'");
    await c.query('ROLLBACK');
    await c.query('RESET default_transaction_read_only');
    expect((await c.query('SHOW transaction_read_only')).rows).toEqual([{ transaction_read_only: 'off' }]);
    expect(await catalogSnapshot(c)).toEqual(before);
    // Reads still work, and current_schema() is the user's, as in Materialize.
    expect((await c.query('SELECT current_schema() AS s, current_database() AS d')).rows).toEqual([{ s: 'public', d: 'materialize' }]);
  });
});
