/**
 * Ids, the same on every store: `u<n>`, increasing, never handed out twice (not after a DROP,
 * not after a failed or rolled-back CREATE), and the external id built from them.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { errorOf, STORES, useTestServer } from '../support/server.js';
import { idNumber } from './contract-helpers.js';

const ROLE_ARN = 'arn:aws:iam::001234567890:role/Customer';

/** Every id the server has shown so far, to prove none comes back. */
function idLedger(): { add(id: unknown): number; readonly all: Set<string>; max(): number } {
  const all = new Set<string>();
  return {
    all,
    add: (id) => {
      const n = idNumber(id);
      expect(all.has(id as string), `id ${String(id)} handed out twice`).toBe(false);
      all.add(id as string);
      return n;
    },
    max: () => Math.max(0, ...[...all].map(idNumber)),
  };
}

const idOf = async (c: pg.Client, name: string): Promise<string> => {
  const { rows } = await c.query('SELECT id FROM mz_objects WHERE name = $1', [name]);
  expect(rows, `object ${name}`).toHaveLength(1);
  return rows[0].id as string;
};

describe.each(STORES)('ids (%s store)', (store) => {
  const server = useTestServer([], store);
  const ledger = idLedger();

  it('are u<n>, increasing with every CREATE of a secret or a connection', async () => {
    const c = await server().client();
    let last = 0;
    for (let i = 0; i < 6; i++) {
      if (i % 2 === 0) await c.query(`CREATE SECRET mono_${i} AS 'x'`);
      else await c.query(`CREATE CONNECTION mono_${i} TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
      const n = ledger.add(await idOf(c, `mono_${i}`));
      expect(n).toBeGreaterThan(last);
      last = n;
    }
  });

  it('are never reused after a DROP, even for the same name', async () => {
    const c = await server().client();
    await c.query("CREATE SECRET reuse_me AS 'x'");
    await c.query(`CREATE CONNECTION reuse_conn TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
    const dropped = [await idOf(c, 'reuse_me'), await idOf(c, 'reuse_conn')];
    dropped.forEach((id) => ledger.add(id));
    await c.query('DROP SECRET reuse_me');
    await c.query('DROP CONNECTION reuse_conn');
    await c.query("CREATE SECRET reuse_me AS 'x'");
    await c.query(`CREATE CONNECTION reuse_conn TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
    const secret = await idOf(c, 'reuse_me');
    const conn = await idOf(c, 'reuse_conn');
    expect(idNumber(secret)).toBeGreaterThan(Math.max(...dropped.map(idNumber)));
    ledger.add(secret);
    ledger.add(conn);
    // The re-created connection has a new external id: the old trust policy does not apply to it.
    const { rows } = await c.query('SELECT external_id FROM mz_internal.mz_aws_connections WHERE id = $1', [conn]);
    expect(rows).toEqual([{ external_id: `mz_test-prefix_${conn}` }]);
    expect(rows[0].external_id).not.toBe(`mz_test-prefix_${dropped[1]}`);
  });

  it('a failed or rolled-back CREATE may use up an id but never hands one out twice', async () => {
    const c = await server().client();
    const before = ledger.max();
    await c.query("CREATE SECRET burn_taken AS 'x'");
    ledger.add(await idOf(c, 'burn_taken'));
    const failing: [string, string][] = [
      ["CREATE CONNECTION burn_bad TO AWS (ASSUME ROLE ARN = 'not-an-arn')", '22023'],
      ["CREATE SECRET burn_taken AS 'y'", '42710'],
      ["CREATE CONNECTION burn_bad TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET burn_missing)", '42704'],
      ["CREATE SECRET burn_a AS 'x'; CREATE SECRET burn_a AS 'y'", '42710'],
    ];
    for (const [sql, code] of failing) expect((await errorOf(c.query(sql))).code, sql).toBe(code);

    // Ids a rolled-back transaction showed are not given to anything else either.
    await c.query('BEGIN');
    await c.query("CREATE SECRET burn_tx AS 'x'");
    await c.query(`CREATE CONNECTION burn_tx_conn TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
    const shown = [await idOf(c, 'burn_tx'), await idOf(c, 'burn_tx_conn')];
    await c.query('ROLLBACK');
    const shownExternalIds = shown.map((id) => `mz_test-prefix_${id}`);

    await c.query("CREATE SECRET burn_after AS 'x'");
    await c.query(`CREATE CONNECTION burn_after_conn TO AWS (ASSUME ROLE ARN = '${ROLE_ARN}')`);
    const after = [await idOf(c, 'burn_after'), await idOf(c, 'burn_after_conn')];
    for (const id of after) {
      expect(idNumber(id)).toBeGreaterThan(before);
      expect(shown).not.toContain(id);
      ledger.add(id);
    }
    const { rows } = await c.query('SELECT external_id FROM mz_internal.mz_aws_connections WHERE id = $1', [after[1]]);
    expect(shownExternalIds).not.toContain(rows[0].external_id);
  });

  it('the external id of every assume-role connection is mz_test-prefix_<id>, in the view and the trust policy', async () => {
    const c = await server().client();
    const { rows } = await c.query(
      "SELECT id, external_id, example_trust_policy->'Statement'->0->'Condition'->'StringEquals'->>'sts:ExternalId' AS policy_external_id FROM mz_internal.mz_aws_connections WHERE assume_role_arn IS NOT NULL",
    );
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const r of rows) expect(r).toEqual({ id: r.id, external_id: `mz_test-prefix_${r.id}`, policy_external_id: `mz_test-prefix_${r.id}` });
    // Ids in the catalog are exactly the ones shown along the way: none appeared behind our back.
    const all = (await c.query("SELECT id FROM mz_objects WHERE id LIKE 'u%' AND type IN ('secret', 'connection')")).rows.map((r: { id: string }) => r.id);
    for (const id of all) expect(ledger.all.has(id), id).toBe(true);
  });
});
