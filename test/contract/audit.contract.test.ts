import { describe, expect, it } from 'vitest';
import { errorOf, STORES, useTestServer } from '../support/server.js';

const CANARY = 'audit-canary-secret-9d1e';

describe.each(STORES)('the audit trail, mz_catalog.mz_audit_events (%s store)', (store) => {
  const server = useTestServer(['--aws-sts-timeout', '500ms'], store);
  const events = async (user = 'materialize') => {
    const c = await server().client({ user });
    const { rows } = await c.query('SELECT id, event_type, object_type, details, "user", occurred_at FROM mz_catalog.mz_audit_events ORDER BY id');
    return rows as { id: string; event_type: string; object_type: string; details: Record<string, unknown>; user: string; occurred_at: Date }[];
  };

  it('has one row per change, in order, in Materialize\'s shapes, naming who made it', async () => {
    const c = await server().clientAs('auditor_alice');
    const before = (await events()).length;
    await c.query(`CREATE SECRET audit_s AS '${CANARY}'`);
    await c.query("CREATE CONNECTION audit_c TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET audit_s)");
    await c.query("ALTER CONNECTION audit_c SET (REGION = 'eu-west-1')");
    await c.query(`ALTER SECRET audit_s AS '${CANARY}-2'`);
    await c.query('ALTER CONNECTION audit_c RENAME TO audit_c2');
    await c.query("COMMENT ON CONNECTION audit_c2 IS 'kept'");
    await c.query('DROP CONNECTION audit_c2');
    const rows = (await events()).slice(before);
    const item = (id: unknown, name: string) => ({ id, database: 'materialize', schema: 'public', item: name });
    const [secretId, connId] = [rows[0]!.details.id, rows[1]!.details.id];
    expect(rows.map((r) => [r.event_type, r.object_type, r.details, r.user])).toEqual([
      ['create', 'secret', item(secretId, 'audit_s'), 'auditor_alice'],
      ['create', 'connection', item(connId, 'audit_c'), 'auditor_alice'],
      ['alter', 'connection', item(connId, 'audit_c'), 'auditor_alice'],
      ['alter', 'secret', item(secretId, 'audit_s'), 'auditor_alice'],
      ['alter', 'connection', { id: connId, previous_name: { database: 'materialize', schema: 'public', item: 'audit_c' }, new_name: { database: 'materialize', schema: 'public', item: 'audit_c2' } }, 'auditor_alice'],
      ['comment', 'connection', item(connId, 'audit_c2'), 'auditor_alice'],
      ['drop', 'connection', item(connId, 'audit_c2'), 'auditor_alice'],
    ]);
    expect(rows.every((r, i) => i === 0 || BigInt(r.id) > BigInt(rows[i - 1]!.id))).toBe(true);
    expect(rows.every((r) => r.occurred_at instanceof Date)).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(CANARY);
  });

  it('a failed statement or a rolled-back transaction leaves no event; a committed one leaves all of its own', async () => {
    const c = await server().client();
    const before = (await events()).length;
    expect((await errorOf(c.query('DROP SECRET no_such_secret'))).code).toBe('42704');
    await c.query('BEGIN');
    await c.query("CREATE SECRET audit_rolled AS 'x'");
    await c.query('ROLLBACK');
    expect((await events()).length).toBe(before);
    await c.query("BEGIN; CREATE SECRET audit_tx1 AS 'x'; CREATE SECRET audit_tx2 AS 'y'; COMMIT");
    const added = (await events()).slice(before);
    expect(added.map((r) => [r.event_type, r.details.item])).toEqual([
      ['create', 'audit_tx1'],
      ['create', 'audit_tx2'],
    ]);
  });

  it('records a validation that failed, with its SQLSTATE and reason, and never a secret', async () => {
    const c = await server().clientAs('auditor_bob');
    await c.query(`CREATE SECRET audit_v AS '${CANARY}'`);
    await c.query("CREATE CONNECTION audit_vc TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET audit_v, ENDPOINT = 'http://127.0.0.1:9', REGION = 'us-east-1')");
    const err = await errorOf(c.query('VALIDATE CONNECTION audit_vc'));
    expect(err.code).toBe('58000');
    const last = (await events()).at(-1)!;
    expect(last).toMatchObject({ event_type: 'validate', object_type: 'connection', user: 'auditor_bob' });
    expect(last.details).toMatchObject({ item: 'audit_vc', outcome: 'failure', sqlstate: '58000', error: err.message });
    expect(JSON.stringify(last)).not.toContain(CANARY);
  });
});
