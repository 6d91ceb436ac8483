import { beforeAll, describe, expect, it } from 'vitest';
import { gateStatement, initQueryGate } from '../../src/exec/query-gate.js';
import { useTestServer } from '../support/server.js';

function lifted(sql: string): unknown {
  const g = gateStatement(sql);
  return g.kind === 'read' ? g.lifted : undefined;
}

describe('literal lifting', () => {
  beforeAll(async () => initQueryGate([]));

  it('turns literals into parameters, keeping positional ORDER BY and typed literals', () => {
    expect(lifted("SELECT a FROM t WHERE name = 'x' AND n > 3 ORDER BY 1 LIMIT 10")).toEqual({
      text: 'SELECT a FROM t WHERE name = $1 AND n > $2 ORDER BY 1 LIMIT $3',
      params: ['x', '3', '10'],
      types: [0, 23, 23],
    });
    expect(lifted("SELECT interval '1 day', 'a'::text")).toBeUndefined();
    expect(lifted('SELECT 1 FROM t GROUP BY 1')).toEqual({ text: 'SELECT $1 FROM t GROUP BY 1', params: ['1'], types: [23] });
    expect(lifted("SELECT 'é'")).toBeUndefined();
  });
});

describe('lifted queries through the server', () => {
  const server = useTestServer();

  it('answers each literal with its own rows from one cached plan, and falls back when the engine cannot prepare', async () => {
    const c = await server().client();
    for (let i = 0; i < 5; i++) await c.query(`CREATE SECRET lift_${i} AS 'x'`);
    // Simple protocol (no parameters): the literal varies, the answer must follow it.
    for (let i = 0; i < 5; i++) {
      const { rows } = await c.query(`SELECT name FROM mz_secrets WHERE name = 'lift_${i}'`);
      expect(rows).toEqual([{ name: `lift_${i}` }]);
    }
    expect((await c.query("SELECT name FROM mz_secrets WHERE name LIKE 'lift_%' ORDER BY 1 DESC LIMIT 2")).rows).toEqual([{ name: 'lift_4' }, { name: 'lift_3' }]);
    expect((await c.query("SELECT 'a' || 'b' AS ab, 2 + 3 AS five, 1.5 * 2 AS three")).rows).toEqual([{ ab: 'ab', five: 5, three: '3.0' }]);
    expect((await c.query("SELECT interval '1 day' AS d")).rows[0].d).toEqual({ days: 1 });
  });
});
