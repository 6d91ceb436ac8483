/**
 * Issue 9 (5): a node killed with SIGKILL in the middle of multi-statement DDL transactions.
 * Another node on the same catalog must see each transaction whole or not at all.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildServer } from '../support/child-server.js';
import { freshSharedCatalog } from '../support/server.js';
import { catalogInconsistencies, connectTo, Fleet, isAlive, lifeOf, outcome, rows, sleep } from './nodes.js';

const CYCLES = 5;
const CLIENTS = 4;

type Ending = 'committed' | 'refused' | 'lost';

describe('multi-node: a node killed with SIGKILL mid-DDL', () => {
  const fleet = new Fleet();
  let shared: Awaited<ReturnType<typeof freshSharedCatalog>>;
  let observer: ChildServer;
  let b: pg.Client;

  beforeAll(async () => {
    shared = await freshSharedCatalog();
    observer = await fleet.start(shared.url, shared.keyFile);
    b = await fleet.connect(observer);
  });

  afterAll(async () => {
    await fleet.stopAll();
    await shared?.drop();
  });

  it(`each BEGIN; CREATE SECRET; CREATE CONNECTION ... SECRET; COMMIT is whole or absent on another node (${CYCLES} kills)`, async () => {
    /** Pair name → how its transaction ended as the client saw it (absent: never got to COMMIT). */
    const endings = new Map<string, Ending | 'unfinished'>();
    const problems: string[] = [];
    let killedDuringCommit = 0;

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const victim = await fleet.start(shared.url, shared.keyFile);
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connectTo(victim.url)));
      let killed = false;
      const inCommit = new Set<string>();
      const loop = async (c: pg.Client, k: number) => {
        for (let j = 0; !killed; j++) {
          const pair = `p${cycle}_${k}_${j}`;
          endings.set(pair, 'unfinished');
          const create = [
            `CREATE SECRET k_${pair} AS 'value-${pair}'`,
            `CREATE CONNECTION c_${pair} TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET k_${pair}, REGION = 'us-east-1')`,
          ];
          let result: string;
          if (j % 2 === 0) {
            // The whole transaction as one Query message.
            inCommit.add(pair);
            result = await outcome(c.query(`BEGIN; ${create[0]}; ${create[1]}; COMMIT`));
          } else {
            // Statement by statement: the kill may land between them, with changes staged on the node.
            result = await outcome(c.query('BEGIN'));
            for (const sql of create) if (result === 'ok') result = await outcome(c.query(sql));
            if (result === 'ok') {
              inCommit.add(pair);
              result = await outcome(c.query('COMMIT'));
            } else {
              await outcome(c.query('ROLLBACK'));
              endings.set(pair, 'refused');
              if (result.startsWith('no-sqlstate')) endings.set(pair, 'unfinished');
              if (!killed && result.startsWith('no-sqlstate')) problems.push(`cycle ${cycle}: ${pair} lost its session before the kill: ${result}`);
              continue;
            }
          }
          inCommit.delete(pair);
          endings.set(pair, result === 'ok' ? 'committed' : result.startsWith('no-sqlstate') ? 'lost' : 'refused');
          if (killed) break;
          if (result.startsWith('no-sqlstate')) problems.push(`cycle ${cycle}: ${pair} lost its session before the kill: ${result}`);
        }
      };
      const loops = clients.map((c, k) => loop(c, k));
      await sleep(300 + Math.random() * 1200);
      killed = true;
      killedDuringCommit += inCommit.size;
      victim.process.kill('SIGKILL');
      expect(await victim.exited).toBe('SIGKILL');
      await Promise.all(loops);
      await Promise.allSettled(clients.map((c) => c.end()));

      // At the observer's next statement: every pair whole or absent, every acknowledged COMMIT there, every refused one absent.
      const names = new Set((await rows<{ name: string }>(b, "SELECT name FROM mz_objects")).map((r) => r.name));
      for (const [pair, ending] of endings) {
        if (!pair.startsWith(`p${cycle}_`)) continue;
        const secret = names.has(`k_${pair}`);
        const conn = names.has(`c_${pair}`);
        if (secret !== conn) problems.push(`cycle ${cycle}: half a transaction: ${pair} secret ${secret}, connection ${conn} (client saw: ${ending})`);
        else if (ending === 'committed' && !conn) problems.push(`cycle ${cycle}: ${pair} COMMIT acknowledged, but absent`);
        else if ((ending === 'refused' || ending === 'unfinished') && conn) problems.push(`cycle ${cycle}: ${pair} present, but its transaction ${ending === 'refused' ? 'failed' : 'never committed'}`);
      }
      for (const p of await catalogInconsistencies(b)) problems.push(`cycle ${cycle}: ${p}`);
    }

    const tally = [...endings.values()].reduce<Record<string, number>>((t, e) => ({ ...t, [e]: (t[e] ?? 0) + 1 }), {});
    console.log('SIGKILL mid-DDL:', JSON.stringify({ ...tally, killedDuringCommit }));
    expect(problems).toEqual([]);
    // The loops really ran transactions to completion before each kill.
    expect(tally.committed ?? 0).toBeGreaterThan(CYCLES * CLIENTS);
    // The observer never noticed anything: it still serves reads and DDL.
    expect(lifeOf(observer, 'observer')).toBe('observer: alive');
    await b.query("CREATE SECRET after_kills AS 'v'");
    await b.query("CREATE CONNECTION after_kills_c TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET after_kills)");
    expect(await rows(b, "SELECT name FROM mz_objects WHERE name LIKE 'after_kills%' ORDER BY 1")).toEqual([{ name: 'after_kills' }, { name: 'after_kills_c' }]);
    expect(isAlive(observer)).toBe(true);
  });
});
