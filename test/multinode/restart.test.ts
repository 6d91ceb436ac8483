/**
 * Issue 9 (4): the catalog's PostgreSQL restarts under traffic from two nodes. In-flight
 * statements fail with a connection-class SQLSTATE (or succeed), the nodes stay up and serve
 * again by themselves, and no DDL is left half-applied.
 *
 * Uses a PostgreSQL server of its own: restarting the run's shared one would disturb other
 * test files.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildServer } from '../support/child-server.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { catalogInconsistencies, connectTo, directCatalogClient, Fleet, isAlive, lifeOf, outcome, outcomeWithMessage, rows, sleep, tempKeyFile } from './nodes.js';

interface Event {
  readonly at: number;
  readonly worker: string;
  readonly what: string;
  readonly result: string;
  readonly message?: string;
}

/** What the DDL workers did to pair i (secret k_i and connection c_i, always created and dropped together). */
interface PairLog {
  /** The last acknowledged action, if the pair's state is known. */
  known?: 'present' | 'absent';
  /** An unacknowledged action since: the pair may be either way, but must be whole. */
  uncertain: boolean;
  /** Every action on it: what, outcome, when (relative to the test's start). */
  history: string[];
}

const CONNECTION_ERROR = /^(57P|08)/;

describe('multi-node: the catalog database restarts under traffic', () => {
  const fleet = new Fleet();
  let postgres: PostgresServer;
  let key: Awaited<ReturnType<typeof tempKeyFile>>;
  let nodes: ChildServer[];
  let url: string;

  beforeAll(async () => {
    postgres = await startPostgres();
    const admin = await postgres.client();
    await admin.query('CREATE DATABASE iamlink_restart');
    await admin.end();
    const u = new URL(postgres.url);
    u.pathname = '/iamlink_restart';
    url = u.toString();
    key = await tempKeyFile();
    nodes = await Promise.all([fleet.start(url, key.path), fleet.start(url, key.path)]);
  });

  afterAll(async () => {
    await fleet.stopAll();
    await postgres?.stop();
    await key?.remove();
  });

  it('in-flight statements fail with 57P*/08* or succeed; both nodes recover within seconds; no partial DDL', async () => {
    const events: Event[] = [];
    const pairs = new Map<string, PairLog>();
    let stop = false;
    const t0 = Date.now();

    /** A worker: its own client session to one node, reconnecting only if that session is lost. */
    const worker = async (node: ChildServer, name: string, step: (c: pg.Client, i: number) => Promise<void>) => {
      let c = await connectTo(node.url);
      for (let i = 0; !stop; i++) {
        try {
          await step(c, i);
        } catch (err) {
          // The session itself is gone (the step recorded the statement's outcome already).
          if ((err as Error).message === 'session lost') {
            await c.end().catch(() => undefined);
            c = await connectTo(node.url).catch(() => c);
          }
          await sleep(20);
        }
      }
      await c.end().catch(() => undefined);
    };
    /** Run one statement and record its outcome; throws (after recording) on any failure. */
    const run = async (c: pg.Client, worker: string, what: string, p: Promise<unknown>): Promise<void> => {
      const { result, message } = await outcomeWithMessage(p);
      events.push({ at: Date.now(), worker, what, result, message });
      if (result.startsWith('no-sqlstate')) throw new Error('session lost');
      if (result !== 'ok') throw new Error(result);
    };

    const reader = (node: ChildServer, name: string) =>
      worker(node, name, async (c, i) => {
        if (i % 2 === 0) await run(c, name, 'simple read', c.query('SELECT count(*) FROM mz_connections'));
        else await run(c, name, 'extended read', c.query('SELECT id, name FROM mz_objects WHERE name = $1', [`c_${name}_${i}`]));
      });
    const ddl = (node: ChildServer, name: string) =>
      worker(node, name, async (c, i) => {
        // Unquoted identifiers fold to lower case: keep the pair's key as the catalog will spell it.
        const pair = `${name.toLowerCase()}_${Math.floor(i / 2)}`;
        const log = pairs.get(pair) ?? { uncertain: false, history: [] };
        pairs.set(pair, log);
        const sql =
          i % 2 === 0
            ? `CREATE SECRET k_${pair} AS 'v'; CREATE CONNECTION c_${pair} TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET k_${pair})`
            : `DROP CONNECTION IF EXISTS c_${pair}; DROP SECRET IF EXISTS k_${pair}`;
        const what = i % 2 === 0 ? 'create pair' : 'drop pair';
        try {
          await run(c, name, what, c.query(sql));
          log.known = i % 2 === 0 ? 'present' : 'absent';
          log.uncertain = false;
          log.history.push(`${what} ok at +${Date.now() - t0}ms`);
        } catch (err) {
          log.uncertain = true;
          log.history.push(`${what} ${(err as Error).message} at +${Date.now() - t0}ms`);
          throw err;
        }
      });

    const [A, B] = nodes as [ChildServer, ChildServer];
    const running = Promise.all([reader(A, 'readA'), reader(B, 'readB'), ddl(A, 'ddlA'), ddl(B, 'ddlB')]);
    try {
      await sleep(1500);
      const restartStart = Date.now();
      await postgres.restart();
      const restartEnd = Date.now();

      // Every worker must succeed again after the restart, by itself, within the deadline.
      const deadline = restartEnd + 10_000;
      const workers = ['readA', 'readB', 'ddlA', 'ddlB'];
      const recovered = () => workers.every((w) => events.some((e) => e.worker === w && e.at > restartEnd && e.result === 'ok'));
      while (!recovered() && Date.now() < deadline && nodes.some(isAlive)) await sleep(50);
      // A little more traffic after recovery, to see it stays healthy.
      await sleep(500);
      stop = true;
      await running;

      const firstOkAfter = Object.fromEntries(workers.map((w) => [w, events.find((e) => e.worker === w && e.at > restartEnd && e.result === 'ok')?.at]));
      const summary = {
        restartMs: restartEnd - restartStart,
        statements: events.length,
        failures: events.filter((e) => e.result !== 'ok').length,
        recoveryMs: Object.fromEntries(workers.map((w) => [w, firstOkAfter[w] === undefined ? 'never' : firstOkAfter[w]! - restartEnd])),
        codes: [...new Set(events.filter((e) => e.result !== 'ok').map((e) => e.result))],
      };
      console.log('restart under traffic:', JSON.stringify(summary));

      const problems: string[] = [];
      const at = (e: Event) => `${e.worker} ${e.what} at ${e.at < restartStart ? `${e.at - restartStart}ms before` : `+${e.at - restartStart}ms after the restart began`}: ${e.result}${e.result.startsWith('no-sqlstate') ? '' : ` ${e.message}`}`;
      // Both nodes survived the restart.
      for (const [i, n] of nodes.entries()) if (!isAlive(n)) problems.push(lifeOf(n, `node ${'AB'[i]}`));
      // There was traffic before, and no failure before the restart.
      if (events.filter((e) => e.at < restartStart && e.result === 'ok').length < 20) problems.push('less than 20 statements succeeded before the restart');
      for (const e of events.filter((e) => e.at < restartStart && e.result !== 'ok').slice(0, 5)) problems.push(`failed before the restart: ${at(e)}`);
      // Every failure around the restart carried a connection-class SQLSTATE: no other code, and no session dropped without one.
      const unclear = events.filter((e) => e.at >= restartStart && e.result !== 'ok' && !CONNECTION_ERROR.test(e.result));
      for (const e of unclear.slice(0, 5)) problems.push(`not a 57P*/08* error: ${at(e)}`);
      if (unclear.length > 5) problems.push(`... and ${unclear.length - 5} more such failures`);
      // Each worker was served again within a few seconds, without anyone restarting the node.
      for (const w of workers) {
        const ms = summary.recoveryMs[w];
        if (typeof ms !== 'number' || ms > 5000) problems.push(`${w} not served again within 5 s of the restart (${ms})`);
      }
      // Once recovered, no more failures.
      const lastRecovery = Math.max(...workers.map((w) => firstOkAfter[w] ?? Infinity));
      for (const e of events.filter((e) => e.at > lastRecovery + 1000 && e.result !== 'ok').slice(0, 5)) problems.push(`failed after recovery: ${at(e)}`);

      // No partial DDL, as the catalog database itself shows it (whatever became of the nodes).
      const direct = await directCatalogClient(url);
      try {
        for (const p of await catalogInconsistencies(direct)) problems.push(`catalog: ${p}`);
        const names = new Set((await rows<{ name: string }>(direct, 'SELECT name FROM mz_objects')).map((r) => r.name));
        for (const [pair, log] of pairs) {
          const secret = names.has(`k_${pair}`);
          const conn = names.has(`c_${pair}`);
          if (secret !== conn) problems.push(`half a pair: ${pair}: secret ${secret}, connection ${conn}`);
          else if (!log.uncertain && log.known !== undefined && conn !== (log.known === 'present')) problems.push(`${pair}: acknowledged ${log.known}, found ${conn ? 'present' : 'absent'} (${log.history.join('; ')}; restart began at +${restartStart - t0}ms)`);
        }
      } finally {
        await direct.end();
      }
      // And each surviving node still does reads and DDL on a fresh session.
      for (const [i, node] of nodes.entries()) {
        if (!isAlive(node)) continue;
        const c = await connectTo(node.url);
        try {
          const r = [await outcome(c.query('SELECT count(*) FROM mz_connections')), await outcome(c.query(`CREATE SECRET after_${i} AS 'v'`)), await outcome(c.query(`DROP SECRET after_${i}`))];
          if (r.some((x) => x !== 'ok')) problems.push(`node ${'AB'[i]} after the restart: ${r.join(', ')}`);
        } finally {
          await c.end();
        }
      }
      expect(problems).toEqual([]);
    } finally {
      stop = true;
      await running;
    }
    expect(pairs.size).toBeGreaterThan(4);
  });
  it('one node, one session, no other writer: DDL through five restarts fails only with 57P*/08* (never 40001 or XX000), and never by halves', async () => {
    const node = nodes[0]!;
    const c = await connectTo(node.url);
    const seen: { i: number; result: string; message?: string }[] = [];
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        const r = await outcomeWithMessage(
          c.query(`CREATE SECRET solo_k_${i} AS 'v'; CREATE CONNECTION solo_c_${i} TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET solo_k_${i})`),
        );
        seen.push({ i, ...r });
        if (r.result.startsWith('no-sqlstate')) break;
        if (r.result !== 'ok') await sleep(5);
      }
    })();
    try {
      await sleep(300);
      for (let k = 0; k < 5; k++) {
        await postgres.restart();
        await sleep(500);
      }
    } finally {
      stop = true;
      await loop;
      await c.end().catch(() => undefined);
    }
    const failures = seen.filter((e) => e.result !== 'ok');
    console.log('one session through 5 restarts:', JSON.stringify(failures.reduce<Record<string, number>>((t, e) => ({ ...t, [e.result]: (t[e.result] ?? 0) + 1 }), { ok: seen.length - failures.length })));
    expect(isAlive(node)).toBe(true);
    // With no other writer, nothing can have "changed the catalog since this transaction's" statements.
    expect(failures.filter((e) => !CONNECTION_ERROR.test(e.result)).map((e) => `solo ${e.i}: ${e.result} ${e.message}`)).toEqual([]);
    expect(seen.filter((e) => e.result === 'ok').length).toBeGreaterThan(10);
    const direct = await directCatalogClient(url);
    try {
      const names = new Set((await rows<{ name: string }>(direct, "SELECT name FROM mz_objects WHERE name LIKE 'solo_%'")).map((r) => r.name));
      const broken = seen.filter((e) => names.has(`solo_k_${e.i}`) !== names.has(`solo_c_${e.i}`) || (e.result === 'ok' && !names.has(`solo_c_${e.i}`)));
      expect(broken.map((e) => `solo ${e.i} (${e.result}): secret ${names.has(`solo_k_${e.i}`)}, connection ${names.has(`solo_c_${e.i}`)}`)).toEqual([]);
      expect(await catalogInconsistencies(direct)).toEqual([]);
    } finally {
      await direct.end();
    }
  });
});
