import { describe, expect, it } from 'vitest';
import { SqlError } from '../../src/errors.js';
import type { BindValues } from '../../src/protocol-frames.js';
import { PreparedStatements, type ParamRule, type PortalResult } from '../../src/session/prepared-statements.js';

/** Statements here are classified as plain strings: the registry never looks inside. */
const define = (text: string) => (): { text: string; classified: string; paramTypes: readonly number[] } => ({ text, classified: text, paramTypes: [] });
const values = (...params: (string | null)[]): BindValues => ({
  paramFormats: [],
  params: params.map((p) => (p === null ? null : Buffer.from(p))),
  resultFormats: [],
});
const any = (): ParamRule => ({ kind: 'any' });

/** The SQLSTATE and message of what `f` throws; fails if it throws anything but a SqlError. */
function failure(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(SqlError);
    return { code: (err as SqlError).code, message: (err as SqlError).message };
  }
  throw new Error('expected a SqlError, nothing was thrown');
}

function withStatement(name = 's', text = 'SELECT 1'): PreparedStatements<string> {
  const registry = new PreparedStatements<string>();
  registry.prepare(name, define(text));
  return registry;
}

describe('prepared statements', () => {
  it('are found by name once prepared, and a missing one is 42704', () => {
    const registry = withStatement('s', 'SELECT 1');
    expect(registry.statement('s')).toEqual({ text: 'SELECT 1', classified: 'SELECT 1', paramTypes: [] });
    expect(failure(() => registry.statement('nope'))).toEqual({ code: '42704', message: 'prepared statement "nope" does not exist' });
  });

  it('refuse a second named statement of the same name with 42710 before defining it', () => {
    const registry = withStatement('s');
    let defined = false;
    const err = failure(() =>
      registry.prepare('s', () => {
        defined = true;
        throw new Error('define must not run for a duplicate name');
      }),
    );
    expect(err).toEqual({ code: '42710', message: 'prepared statement "s" already exists' });
    expect(defined).toBe(false);
    expect(registry.statement('s').text).toBe('SELECT 1');
  });

  it('replace the unnamed statement, and keep it when a new definition fails', () => {
    const registry = withStatement('', 'SELECT 1');
    registry.prepare('', define('SELECT 2'));
    expect(registry.statement('').text).toBe('SELECT 2');
    expect(() =>
      registry.prepare('', () => {
        throw new Error('syntax error');
      }),
    ).toThrow('syntax error');
    expect(registry.statement('').text).toBe('SELECT 2');
  });

  it('are forgotten by Close, silently when missing', () => {
    const registry = withStatement('s');
    registry.close('statement', 's');
    registry.close('statement', 'never-there');
    expect(failure(() => registry.statement('s')).code).toBe('42704');
  });

  it('go by DEALLOCATE name (42704 when missing) or DEALLOCATE ALL, and portals stay', () => {
    const registry = withStatement('a');
    registry.prepare('b', define('SELECT 2'));
    registry.bind('p', 'a', values(), any);
    registry.deallocate('a');
    expect(failure(() => registry.statement('a')).code).toBe('42704');
    expect(failure(() => registry.deallocate('a'))).toEqual({ code: '42704', message: 'prepared statement "a" does not exist' });
    registry.deallocate(undefined);
    expect(failure(() => registry.statement('b')).code).toBe('42704');
    expect(registry.portal('p').statement.text).toBe('SELECT 1');
  });
});

describe('portals', () => {
  it('need an existing statement (checked before the portal name) and a new name unless unnamed', () => {
    const registry = withStatement('s');
    registry.bind('p', 's', values(), any);
    expect(failure(() => registry.bind('p', 'missing', values(), any))).toEqual({ code: '42704', message: 'prepared statement "missing" does not exist' });
    expect(failure(() => registry.bind('p', 's', values(), any))).toEqual({ code: '42710', message: 'portal "p" already exists' });
    const first = registry.bind('', 's', values('1'), any);
    const second = registry.bind('', 's', values('2'), any);
    expect(registry.portal('')).toBe(second);
    expect(registry.portal('')).not.toBe(first);
    expect(failure(() => registry.portal('q'))).toEqual({ code: '42704', message: 'portal "q" does not exist' });
  });

  it('check the number of Bind values against the rule for the statement, with 08P01', () => {
    const registry = withStatement('s', 'CREATE SECRET x AS $1');
    const rules: ParamRule[] = [];
    const exactlyOne = (c: string): ParamRule => {
      expect(c).toBe('CREATE SECRET x AS $1');
      rules.push({ kind: 'exactly', count: 1 });
      return rules.at(-1)!;
    };
    expect(failure(() => registry.bind('a', 's', values(), exactlyOne))).toEqual({
      code: '08P01',
      message: 'bind message supplies 0 parameters, but prepared statement "s" requires 1',
    });
    expect(failure(() => registry.bind('a', 's', values('v', 'w'), exactlyOne)).message).toBe(
      'bind message supplies 2 parameters, but prepared statement "s" requires 1',
    );
    expect(registry.bind('a', 's', values(null), exactlyOne).values.params).toEqual([null]);

    const none = (): ParamRule => ({ kind: 'none' });
    expect(failure(() => registry.bind('b', 's', values('v'), none))).toEqual({ code: '08P01', message: 'bind message supplies 1 parameters, but the statement takes none' });
    registry.bind('b', 's', values(), none);
    registry.bind('c', 's', values('v', 'w', 'x'), any);
    expect(rules).toHaveLength(3);
  });

  it('that fail to bind leave no portal behind', () => {
    const registry = withStatement('s');
    failure(() => registry.bind('p', 's', values('v'), () => ({ kind: 'none' })));
    expect(failure(() => registry.portal('p')).code).toBe('42704');
  });

  it('keep their statement and values, even after the statement is closed', () => {
    const registry = withStatement('s', 'SELECT $1');
    const bound = values('42');
    const portal = registry.bind('p', 's', bound, any);
    registry.close('statement', 's');
    expect(registry.portal('p')).toBe(portal);
    expect(portal.name).toBe('p');
    expect(portal.statement.text).toBe('SELECT $1');
    expect(portal.values).toBe(bound);
  });

  it('that change something run once: a second run is 55000', () => {
    const portal = withStatement('s', 'SET x = 1').bind('p', 's', values(), any);
    portal.markRun();
    expect(failure(() => portal.markRun())).toEqual({ code: '55000', message: 'portal "p" cannot be run' });
  });

  it('hand out held rows per Execute maxRows, suspended until the last', () => {
    const portal = withStatement().bind('', 's', values(), any);
    expect(portal.result).toBeUndefined();
    const result: PortalResult = {
      description: Buffer.from('T'),
      rows: ['r1', 'r2', 'r3', 'r4', 'r5'].map((r) => Buffer.from(r)),
      completion: [Buffer.from('C')],
    };
    expect(portal.hold(result)).toBe(result);
    expect(portal.result).toBe(result);
    const texts = (rows: readonly Buffer[]): string[] => rows.map((r) => r.toString());
    const first = portal.takeRows(2);
    expect({ rows: texts(first.rows), suspended: first.suspended }).toEqual({ rows: ['r1', 'r2'], suspended: true });
    const second = portal.takeRows(3);
    expect({ rows: texts(second.rows), suspended: second.suspended }).toEqual({ rows: ['r3', 'r4', 'r5'], suspended: false });
    const after = portal.takeRows(3);
    expect({ rows: texts(after.rows), suspended: after.suspended }).toEqual({ rows: [], suspended: false });
  });

  it('hand out all remaining rows for maxRows 0, and stop exactly at the end', () => {
    const portal = withStatement().bind('', 's', values(), any);
    portal.hold({ description: Buffer.from('T'), rows: ['a', 'b', 'c'].map((r) => Buffer.from(r)), completion: [] });
    expect(portal.takeRows(1).rows.map(String)).toEqual(['a']);
    expect(portal.takeRows(0)).toEqual({ rows: [Buffer.from('b'), Buffer.from('c')], suspended: false });
    const exact = withStatement().bind('', 's', values(), any);
    exact.hold({ description: Buffer.from('T'), rows: [Buffer.from('a'), Buffer.from('b')], completion: [] });
    expect(exact.takeRows(2).suspended).toBe(false);
  });

  it('are forgotten by Close (silently when missing), Sync drops only the unnamed one, DISCARD ALL drops all', () => {
    const registry = withStatement('s');
    registry.bind('', 's', values(), any);
    registry.bind('named', 's', values(), any);
    registry.bind('other', 's', values(), any);
    registry.close('portal', 'other');
    registry.close('portal', 'never-there');
    expect(failure(() => registry.portal('other')).code).toBe('42704');

    registry.endSync();
    expect(failure(() => registry.portal('')).code).toBe('42704');
    expect(registry.portal('named').name).toBe('named');

    registry.clear();
    expect(failure(() => registry.portal('named')).code).toBe('42704');
    expect(failure(() => registry.statement('s')).code).toBe('42704');
  });
});
