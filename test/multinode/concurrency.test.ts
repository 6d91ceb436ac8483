/**
 * Issue 9 (2): two nodes racing on one catalog. Same-name CREATEs, id allocation, DROP vs
 * VALIDATE, and concurrent ALTERs of one connection (no lost update).
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildServer } from '../support/child-server.js';
import { errorOf, freshSharedCatalog } from '../support/server.js';
import { catalogInconsistencies, Fleet, idNumber, outcome, outcomeWithMessage, rows } from './nodes.js';

const ROLE = 'arn:aws:iam::001234567890:role/Customer';
const ROUNDS = 20;

describe('multi-node: concurrent DDL on two nodes', () => {
  const fleet = new Fleet();
  let shared: Awaited<ReturnType<typeof freshSharedCatalog>>;
  let nodeA: ChildServer;
  let nodeB: ChildServer;
  let a: pg.Client;
  let b: pg.Client;

  beforeAll(async () => {
    shared = await freshSharedCatalog();
    [nodeA, nodeB] = await Promise.all([fleet.start(shared.url, shared.keyFile), fleet.start(shared.url, shared.keyFile)]);
    [a, b] = await Promise.all([fleet.connect(nodeA), fleet.connect(nodeB)]);
  });

  afterAll(async () => {
    await fleet.stopAll();
    await shared?.drop();
  });

  it(`the same name created on A and B at once (${ROUNDS} rounds, secrets and connections): exactly one succeeds, the other gets 42710`, async () => {
    const results: string[][] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const secret = `race_secret_${i}`;
      results.push(await Promise.all([outcome(a.query(`CREATE SECRET ${secret} AS 'from-a'`)), outcome(b.query(`CREATE SECRET ${secret} AS 'from-b'`))]));
      const conn = `race_conn_${i}`;
      results.push(
        await Promise.all([
          outcome(a.query(`CREATE CONNECTION ${conn} TO AWS (ASSUME ROLE ARN = '${ROLE}', REGION = 'us-east-1')`)),
          outcome(b.query(`CREATE CONNECTION ${conn} TO AWS (ASSUME ROLE ARN = '${ROLE}', REGION = 'eu-west-1')`)),
        ]),
      );
    }
    // Each pair: one 'ok' and one '42710', in either order.
    expect(results.map((r) => [...r].sort())).toEqual(results.map(() => ['42710', 'ok']));
    // And the catalog holds each name exactly once, the same on both nodes.
    const count = "SELECT name, count(*)::int AS n FROM mz_objects WHERE name LIKE 'race_%' GROUP BY name HAVING count(*) <> 1";
    expect(await rows(a, count)).toEqual([]);
    const all = "SELECT id, name FROM mz_objects WHERE name LIKE 'race_%' ORDER BY id";
    const onA = await rows(a, all);
    expect(onA).toHaveLength(2 * ROUNDS);
    expect(await rows(b, all)).toEqual(onA);
    expect(await catalogInconsistencies(b)).toEqual([]);
  });

  it('multi-statement DDL transactions on different names, on A and B at once, all commit (no 40001: nothing they use was changed)', async () => {
    const [a2, b2] = await Promise.all([fleet.connect(nodeA), fleet.connect(nodeB)]);
    const pair = (p: string): [string, string] => [
      `CREATE SECRET k_${p} AS 'v'`,
      `CREATE CONNECTION c_${p} TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET k_${p})`,
    ];
    const failures: string[] = [];
    const worker = async (c: pg.Client, tag: string) => {
      for (let i = 0; i < 15; i++) {
        const p = `disjoint_${tag}_${i}`;
        const [secret, conn] = pair(p);
        // As one Query message (an implicit transaction), and as BEGIN ... COMMIT.
        const r =
          i % 2 === 0
            ? await outcomeWithMessage(c.query(`${secret}; ${conn}`))
            : await outcomeWithMessage(c.query('BEGIN').then(() => c.query(secret)).then(() => c.query(conn)).then(() => c.query('COMMIT')));
        if (r.result !== 'ok') {
          failures.push(`${p}: ${r.result} ${r.message}`);
          await c.query('ROLLBACK').catch(() => undefined);
        }
      }
    };
    await Promise.all([worker(a, 'a1'), worker(a2, 'a2'), worker(b, 'b1'), worker(b2, 'b2')]);
    expect(failures).toEqual([]);
    expect(await rows(a, "SELECT count(*)::int AS n FROM mz_objects WHERE name LIKE '%disjoint%'")).toEqual([{ n: 4 * 15 * 2 }]);
    expect(await catalogInconsistencies(b)).toEqual([]);
  });

  it('the same name created in BEGIN ... COMMIT on A and B at once: exactly one commits, the other fails with 40001 or 42710 and leaves nothing', async () => {
    const results: string[][] = [];
    const txn = async (c: pg.Client, p: string, region: string) => {
      const r = await outcome(
        c
          .query('BEGIN')
          .then(() => c.query(`CREATE SECRET k_${p} AS 'v'`))
          .then(() => c.query(`CREATE CONNECTION c_${p} TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET k_${p}, REGION = '${region}')`))
          .then(() => c.query('COMMIT')),
      );
      if (r !== 'ok') await c.query('ROLLBACK').catch(() => undefined);
      return r;
    };
    for (let i = 0; i < ROUNDS; i++) results.push(await Promise.all([txn(a, `same_${i}`, 'us-east-1'), txn(b, `same_${i}`, 'eu-west-1')]));
    const bad = results.flatMap((r, i) => (r.filter((x) => x === 'ok').length === 1 && r.every((x) => ['ok', '40001', '42710'].includes(x)) ? [] : [`round ${i}: ${r.join(', ')}`]));
    expect(bad).toEqual([]);
    // The winner's whole transaction, and nothing of the loser's: its secret and connection are one node's.
    const rowsOf = await rows<{ name: string; region: string; secret: string }>(
      a,
      `SELECT c.name, aws.region, s.name AS secret FROM mz_connections c JOIN mz_internal.mz_aws_connections aws USING (id)
         JOIN mz_secrets s ON s.id = aws.secret_access_key_secret_id WHERE c.name LIKE 'c_same_%' ORDER BY c.name`,
    );
    expect(rowsOf).toHaveLength(ROUNDS);
    for (const r of rowsOf) {
      const i = Number(r.name.slice('c_same_'.length));
      expect(r.secret).toBe(`k_same_${i}`);
      expect(r.region).toBe(results[i]![0] === 'ok' ? 'us-east-1' : 'eu-west-1');
    }
  });

  it('ids are unique and never reused across nodes, and increase on each node', async () => {
    /** Every (id, name) any SELECT on either node ever returned. */
    const seen = new Map<string, string>();
    const conflicts: string[] = [];
    const record = (list: { id: string; name: string }[]) => {
      for (const { id, name } of list) {
        const before = seen.get(id);
        if (before !== undefined && before !== name) conflicts.push(`${id} was ${before}, now ${name}`);
        seen.set(id, name);
      }
    };
    const PER_NODE = 25;
    const worker = async (c: pg.Client, tag: string): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < PER_NODE; i++) {
        const name = `ids_${tag}_${i}`;
        if (i % 3 === 2) await c.query(`CREATE SECRET ${name} AS 'v'`);
        else await c.query(`CREATE CONNECTION ${name} TO AWS (ASSUME ROLE ARN = '${ROLE}')`);
        const list = await rows<{ id: string; name: string }>(c, 'SELECT id, name FROM mz_connections UNION ALL SELECT id, name FROM mz_secrets');
        record(list);
        const mine = list.filter((r) => r.name === name);
        expect(mine).toHaveLength(1);
        ids.push(mine[0]!.id);
        // Drop most of them at once, so that a reused id would have a free slot to land in.
        if (i % 5 !== 0) await c.query(`DROP ${i % 3 === 2 ? 'SECRET' : 'CONNECTION'} ${name}`);
      }
      return ids;
    };
    const [idsA, idsB] = await Promise.all([worker(a, 'a'), worker(b, 'b')]);
    expect(conflicts).toEqual([]);
    const everyId = [...idsA, ...idsB];
    expect(new Set(everyId).size).toBe(everyId.length);
    // Ids from before this test (the race above) are never handed out again either.
    const earlier = await rows<{ id: string }>(a, "SELECT id FROM mz_objects WHERE name LIKE 'race_%'");
    expect(everyId.filter((id) => earlier.some((e) => e.id === id))).toEqual([]);
    for (const ids of [idsA, idsB]) {
      const numbers = ids.map(idNumber);
      expect(numbers).toEqual([...numbers].sort((x, y) => x - y));
      expect(new Set(numbers).size).toBe(numbers.length);
    }
    // What survives looks the same from both nodes.
    const survivors = "SELECT id, name FROM mz_objects WHERE name LIKE 'ids_%' ORDER BY id";
    expect(await rows(a, survivors)).toEqual(await rows(b, survivors));
    expect(await rows(a, survivors)).toHaveLength(2 * Math.ceil(PER_NODE / 5));
  });

  it('DROP CONNECTION on A, then VALIDATE CONNECTION on B: 42704', async () => {
    for (let i = 0; i < 5; i++) {
      await a.query(`CREATE CONNECTION doomed_${i} TO AWS (ASSUME ROLE ARN = '${ROLE}')`);
      await a.query(`DROP CONNECTION doomed_${i}`);
      const err = await errorOf(b.query(`VALIDATE CONNECTION doomed_${i}`));
      expect(err.code).toBe('42704');
      expect(err.message).toContain(`doomed_${i}`);
    }
  });

  it(`concurrent ALTERs of one option from A and B (${ROUNDS} rounds): each succeeds or fails with 40001, the last success wins`, async () => {
    await a.query(`CREATE CONNECTION contested TO AWS (ASSUME ROLE ARN = '${ROLE}')`);
    const regions = ['eu-west-1', 'us-west-2'] as const;
    const wrong: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Distinct per round, so that a stale value from an earlier round cannot pass.
      const names = [`a-${i}`, `b-${i}`] as const;
      const results = await Promise.all([
        outcome(a.query(`ALTER CONNECTION contested SET (REGION = '${regions[0]}'), SET (ASSUME ROLE SESSION NAME = '${names[0]}')`)),
        outcome(b.query(`ALTER CONNECTION contested SET (REGION = '${regions[1]}'), SET (ASSUME ROLE SESSION NAME = '${names[1]}')`)),
      ]);
      for (const r of results) if (r !== 'ok' && r !== '40001') wrong.push(`round ${i}: ${r}`);
      const ok = [0, 1].filter((k) => results[k] === 'ok');
      const [final] = await rows<{ region: string; assume_role_session_name: string; create_sql: string }>(
        b,
        "SELECT region, assume_role_session_name, create_sql FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name = 'contested'",
      );
      // The definition is one ALTER's whole, never a mix of the two (and never an earlier round's).
      const winner = names.indexOf(final!.assume_role_session_name as (typeof names)[number]);
      if (ok.length === 0) {
        wrong.push(`round ${i}: both ALTERs failed (${results.join(', ')})`);
        continue;
      }
      if (!ok.includes(winner)) wrong.push(`round ${i}: final session name ${final!.assume_role_session_name} is not from a successful ALTER (${results.join(', ')})`);
      else if (final!.region !== regions[winner]) wrong.push(`round ${i}: mixed definition ${JSON.stringify(final)}`);
      else if (!final!.create_sql.includes(`'${names[winner]}'`) || !final!.create_sql.includes(`'${regions[winner]}'`)) wrong.push(`round ${i}: create_sql disagrees: ${final!.create_sql}`);
    }
    expect(wrong).toEqual([]);
  });

  it(`concurrent ALTERs of different options from two sessions on each node (${ROUNDS} rounds): no lost update`, async () => {
    await a.query(`CREATE CONNECTION contested2 TO AWS (ASSUME ROLE ARN = '${ROLE}')`);
    const [a2, b2] = await Promise.all([fleet.connect(nodeA), fleet.connect(nodeB)]);
    type Def = { region: string | null; assume_role_session_name: string | null; endpoint: string | null; assume_role_arn: string | null };
    const read = async (c: pg.Client): Promise<Def> =>
      (await rows<Def>(c, "SELECT region, assume_role_session_name, endpoint, assume_role_arn FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name = 'contested2'"))[0]!;
    const lost: string[] = [];
    let bothSucceeded = 0;
    for (let i = 0; i < ROUNDS; i++) {
      // Each session changes one option of its own, to a value unique to this round.
      const wanted: Def = {
        assume_role_session_name: `s-${i}`,
        region: i % 2 === 0 ? 'ap-south-1' : 'sa-east-1',
        endpoint: `https://sts-${i}.example.com`,
        assume_role_arn: `arn:aws:iam::00123456789${i % 10}:role/R${i}`,
      };
      const before = await read(a);
      const results = await Promise.all([
        outcome(a.query(`ALTER CONNECTION contested2 SET (ASSUME ROLE SESSION NAME = '${wanted.assume_role_session_name}')`)),
        outcome(b.query(`ALTER CONNECTION contested2 SET (REGION = '${wanted.region}')`)),
        outcome(a2.query(`ALTER CONNECTION contested2 SET (ENDPOINT = '${wanted.endpoint}')`)),
        outcome(b2.query(`ALTER CONNECTION contested2 SET (ASSUME ROLE ARN = '${wanted.assume_role_arn}')`)),
      ]);
      for (const r of results) if (r !== 'ok' && r !== '40001') lost.push(`round ${i}: unexpected ${r}`);
      if (results.filter((r) => r === 'ok').length > 1) bothSucceeded++;
      const keys = ['assume_role_session_name', 'region', 'endpoint', 'assume_role_arn'] as const;
      const expected = Object.fromEntries(keys.map((k, n) => [k, results[n] === 'ok' ? wanted[k] : before[k]])) as Def;
      const after = await read(b);
      const differs = keys.filter((k) => after[k] !== expected[k]);
      if (differs.length > 0) lost.push(`round ${i}: ${results.join(', ')}; ${differs.map((k) => `${k} is ${after[k]}, expected ${expected[k]}`).join('; ')}`);
    }
    expect(lost).toEqual([]);
    // The rounds really raced: most had more than one successful ALTER to lose.
    expect(bothSucceeded).toBeGreaterThan(ROUNDS / 2);
  });

  it('concurrent DROP SECRET on A and CREATE CONNECTION using it on B: never a connection referring to a dropped secret', async () => {
    const results: string[][] = [];
    for (let i = 0; i < ROUNDS; i++) {
      await a.query(`CREATE SECRET dep_${i} AS 'v'`);
      results.push(
        await Promise.all([
          outcome(a.query(`DROP SECRET dep_${i}`)),
          outcome(b.query(`CREATE CONNECTION dep_conn_${i} TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET dep_${i})`)),
        ]),
      );
    }
    expect(await catalogInconsistencies(a)).toEqual([]);
    // Exactly one of the two wins each round: dropped (and the CREATE refused), or the connection holds the secret.
    const state = await rows<{ name: string }>(a, "SELECT name FROM mz_objects WHERE name LIKE 'dep_%'");
    const names = new Set(state.map((r) => r.name));
    const bad = results.flatMap(([drop, create], i) => {
      const secret = names.has(`dep_${i}`);
      const conn = names.has(`dep_conn_${i}`);
      const ok = (drop === 'ok' && create !== 'ok' && !secret && !conn) || (create === 'ok' && drop !== 'ok' && secret && conn);
      return ok ? [] : [`round ${i}: DROP ${drop}, CREATE ${create}, secret ${secret}, connection ${conn}`];
    });
    expect(bad).toEqual([]);
  });
});
