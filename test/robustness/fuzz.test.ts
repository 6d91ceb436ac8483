import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { frame, rawConnect, rawSession } from '../support/raw-client.js';
import { pick, seededRandom } from '../support/random.js';
import { useTestServer } from '../support/server.js';

const CANARY = 'fuzz-canary-7f3a9c';
const SEED = Number(process.env.FUZZ_SEED ?? 20261124);

const BASE = [
  `CREATE SECRET fz_s AS '${CANARY}'`,
  `ALTER SECRET fz_s AS '${CANARY}'`,
  "CREATE CONNECTION fz_k TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET fz_s, REGION = 'us-east-1')",
  "CREATE CONNECTION fz_r TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/Customer', ASSUME ROLE SESSION NAME = 'sess')",
  "ALTER CONNECTION fz_r SET (REGION = 'eu-west-1'), DROP (ENDPOINT)",
  'DROP SECRET IF EXISTS fz_s CASCADE',
  'DROP CONNECTION fz_k, fz_r',
  "SELECT principal, external_id FROM mz_internal.mz_aws_connections aws JOIN mz_connections c ON aws.id = c.id WHERE c.name = 'fz_r'",
  'SHOW CREATE CONNECTION fz_k',
  "SET search_path = public, mz_catalog",
  'BEGIN; SELECT 1; COMMIT',
  "INSERT INTO mz_catalog.mz_connections (id) VALUES ('x')",
  "SELECT set_config('search_path', 'x', false)",
  // Several catalog changes in one string or transaction: all or nothing.
  `CREATE SECRET fz_m AS '${CANARY}'; CREATE CONNECTION fz_m2 TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', SECRET ACCESS KEY = SECRET fz_m); SELECT 1/1`,
  `BEGIN; CREATE SECRET fz_t AS '${CANARY}'; DROP SECRET IF EXISTS fz_s; COMMIT`,
  // Functions that run SQL text: never past the gate, whatever the mutation.
  "SELECT * FROM ts_stat('SELECT set_config(''role'', ''postgres'', false)::tsvector')",
  "SELECT query_to_xml('SELECT setval(''iamlink_internal.item_id_seq'', 1)', true, true, '')",
  "SELECT ts_rewrite('a'::tsquery, 'SELECT set_config(''default_transaction_read_only'', ''off'', false)::tsquery, ''a''::tsquery')",
];
const INSERTS = ["'", '"', '(', ')', ',', ';', '=', '$$', '$1', '--', '/*', 'SECRET', 'AWS', 'CASCADE', '\\', '\0', 'é', ' ', 'IF NOT EXISTS', ')))', "E'\\'"];

function mutate(rand: () => number, sql: string): string {
  let s = sql;
  const edits = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (s.length + 1));
    switch (Math.floor(rand() * 4)) {
      case 0:
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 8));
        break;
      case 1:
        s = s.slice(0, at) + pick(rand, INSERTS) + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at);
        break;
      default: {
        const words = s.split(' ');
        const a = Math.floor(rand() * words.length);
        const b = Math.floor(rand() * words.length);
        [words[a], words[b]] = [words[b]!, words[a]!];
        s = words.join(' ');
      }
    }
  }
  return s.replace(/\0/g, '');
}

/** One value that changes whenever anything a user can see of the catalog changes. */
async function fingerprint(c: pg.Client): Promise<string> {
  const { rows } = await c.query(`SELECT md5(coalesce((SELECT string_agg(x::text, '|' ORDER BY x::text) FROM (
      SELECT row(c.*)::text AS x FROM mz_catalog.mz_connections c
      UNION ALL SELECT row(s.*)::text FROM mz_catalog.mz_secrets s
      UNION ALL SELECT row(a.*)::text FROM mz_internal.mz_aws_connections a
      UNION ALL SELECT row(d.*)::text FROM mz_internal.mz_object_dependencies d) t), '')) AS f`);
  return rows[0].f as string;
}

describe('robustness under mutated SQL and malformed frames', () => {
  const server = useTestServer();

  it(`answers 3,000 mutated statements (seed ${SEED}); failed ones change nothing and echo no secret`, async () => {
    const rand = seededRandom(SEED);
    const c = await server().client();
    const observer = await server().client();
    let failures = 0;
    for (let i = 0; i < 3000; i++) {
      const sql = mutate(rand, pick(rand, BASE));
      const before = await fingerprint(observer);
      let failed = false;
      try {
        await c.query(sql);
      } catch (err) {
        failed = true;
        const e = err as pg.DatabaseError;
        expect(e.code, `no SQLSTATE for: ${sql} (${e.message})`).toMatch(/^[0-9A-Z]{5}$/);
        expect(e.code, `internal error for: ${sql}`).not.toBe('XX000');
        const shown = [e.message, e.detail ?? '', e.hint ?? ''].join(' ');
        expect(shown, `secret echoed for: ${sql}`).not.toContain(CANARY);
      }
      if (failed) {
        failures++;
        expect(await fingerprint(observer), `catalog changed by failed statement: ${sql}`).toBe(before);
        // A failure inside BEGIN leaves the block aborted: end it to go on.
        await c.query('ROLLBACK').catch(() => undefined);
      }
    }
    expect(failures).toBeGreaterThan(800);
    expect((await c.query('SELECT 1 AS alive')).rows).toEqual([{ alive: 1 }]);
    const fresh = await server().client();
    expect((await fresh.query("SELECT current_user::text AS u, current_setting('is_superuser') AS su, current_setting('default_transaction_read_only') AS ro")).rows).toEqual([
      { u: 'materialize', su: 'off', ro: 'on' },
    ]);
    expect(await server().logText()).not.toContain(CANARY);
  });

  it('survives 300 connections sending random frames: each is answered or closed cleanly', async () => {
    const rand = seededRandom(SEED + 1);
    const types = ['Q', 'P', 'B', 'D', 'E', 'C', 'S', 'H', 'F', 'd', 'p', 'z', '\0'];
    const outcomes = { answered: 0, closed: 0, waiting: 0 };
    const one = async (i: number): Promise<void> => {
      const c = i % 3 === 0 ? await rawConnect(server().port) : await rawSession(server().port);
      const seen = c.messages.length;
      const body = Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)));
      const lengthDelta = pick(rand, [0, 0, 0, -3, 5, 100000]);
      c.send(frame(pick(rand, types), body, body.length + 4 + lengthDelta));
      c.send(frame('S', Buffer.alloc(0)));
      const answered = c.waitFor(() => c.messages.length > seen, 500).then(
        () => 'answered' as const,
        () => 'waiting' as const,
      );
      const outcome = await Promise.race([c.closed.then(() => 'closed' as const), answered]);
      outcomes[outcome]++;
      // A frame still waiting for the rest of its length is fine; end of input must close it.
      c.end();
      await c.closed;
    };
    for (let batch = 0; batch < 300; batch += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, k) => one(batch + k)));
    }
    expect(outcomes.answered + outcomes.closed).toBeGreaterThan(150);
    const check = await server().client();
    expect((await check.query('SELECT 1 AS alive')).rows).toEqual([{ alive: 1 }]);
  });
});
