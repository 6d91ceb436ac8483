import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/catalog/store.js';
import { TransactionBatcher, type BatchEngine } from '../../src/catalog/transaction-batcher.js';

/** An engine that logs what it is asked to run; `failCommit` makes the next commit fail. */
function recordingEngine(options: { failCommit?: boolean; aborts?: (err: unknown) => boolean } = {}) {
  const log: string[] = [];
  let gate: (() => void) | undefined;
  const firstStarted = new Promise<void>((resolve) => (gate = resolve));
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let transactions = 0;
  const engine: BatchEngine = {
    inTransaction: async (body, rollback) => {
      transactions++;
      log.push('BEGIN');
      const tx: Queryable = {
        query: async (sql) => {
          log.push(sql);
          return [];
        },
        exec: async (sql) => void log.push(sql),
      };
      if (transactions === 1) {
        gate!();
        await held;
      }
      await body(tx);
      if (options.failCommit && transactions === 2) {
        log.push('COMMIT failed');
        throw new Error('disk full');
      }
      log.push(rollback ? 'ROLLBACK' : 'COMMIT');
    },
    abortsTransaction: options.aborts ?? (() => false),
  };
  return { engine, log, firstStarted, release };
}

describe('group commit of catalog transactions', () => {
  it('runs a lone transaction without a savepoint, and a lone trial rolled back', async () => {
    const { engine, log, release } = recordingEngine();
    release();
    const batcher = new TransactionBatcher(engine);
    expect(await batcher.run(async (tx) => (await tx.query('SELECT 1'), 'one'), false)).toBe('one');
    expect(await batcher.run(async (tx) => (await tx.query('SELECT 2'), 'two'), true)).toBe('two');
    expect(log).toEqual(['BEGIN', 'SELECT 1', 'COMMIT', 'BEGIN', 'SELECT 2', 'ROLLBACK']);
  });

  it('runs the transactions that arrive meanwhile in one engine transaction; when one fails, again each in its savepoint, with its own outcome', async () => {
    const { engine, log, firstStarted, release } = recordingEngine();
    const batcher = new TransactionBatcher(engine);
    const first = batcher.run(async (tx) => (await tx.query('first'), 1), false);
    await firstStarted;
    const settled: string[] = [];
    const a = batcher.run(async (tx) => (await tx.query('a'), 'a'), false).then((v) => (settled.push(`a:${v}`), v));
    const b = batcher.run(async (tx) => {
      await tx.query('b');
      throw new Error('b fails');
    }, false).catch((e: Error) => (settled.push('b failed'), e.message));
    const c = batcher.run(async (tx) => (await tx.query('c trial'), 'c'), true);
    expect(settled).toEqual([]);
    release();
    expect(await Promise.all([first, a, b, c])).toEqual([1, 'a', 'b fails', 'c']);
    expect(log).toEqual([
      'BEGIN', 'first', 'COMMIT',
      // Optimistic: no savepoint but around the trial; b fails, so that engine transaction ends.
      'BEGIN', 'a', 'b',
      'BEGIN',
      'SAVEPOINT iamlink_batch', 'a', 'RELEASE SAVEPOINT iamlink_batch',
      'SAVEPOINT iamlink_batch', 'b', 'ROLLBACK TO SAVEPOINT iamlink_batch; RELEASE SAVEPOINT iamlink_batch',
      'SAVEPOINT iamlink_batch', 'c trial', 'ROLLBACK TO SAVEPOINT iamlink_batch; RELEASE SAVEPOINT iamlink_batch',
      'COMMIT',
    ]);
  });

  it('delivers nothing as done when the commit fails: every transaction of the batch fails', async () => {
    const { engine, firstStarted, release } = recordingEngine({ failCommit: true });
    const batcher = new TransactionBatcher(engine);
    const first = batcher.run(async () => 'first', false);
    await firstStarted;
    const outcomes = Promise.all(
      [1, 2, 3].map((i) => batcher.run(async () => i, false).then((v) => `ok ${v}`, (e: Error) => e.message)),
    );
    release();
    expect(await first).toBe('first');
    expect(await outcomes).toEqual(['disk full', 'disk full', 'disk full']);
  });

  it('ends the whole engine transaction on an error the store says aborts it (a serialization failure)', async () => {
    const serialization = Object.assign(new Error('could not serialize'), { code: '40001' });
    const { engine, log, firstStarted, release } = recordingEngine({ aborts: (e) => e === serialization });
    const batcher = new TransactionBatcher(engine);
    void batcher.run(async () => 0, false);
    await firstStarted;
    const x = batcher.run(async () => { throw serialization; }, false).catch((e: Error) => e.message);
    const y = batcher.run(async () => 'y', false).catch((e: Error) => e.message);
    release();
    expect(await Promise.all([x, y])).toEqual(['could not serialize', 'could not serialize']);
    expect(log.at(-1)).toBe('BEGIN');
  });

  it('commits a batch in which nothing fails without a savepoint but around trials', async () => {
    const { engine, log, firstStarted, release } = recordingEngine();
    const batcher = new TransactionBatcher(engine);
    void batcher.run(async () => 0, false);
    await firstStarted;
    const all = Promise.all([
      batcher.run(async (tx) => (await tx.query('one'), 1), false),
      batcher.run(async (tx) => (await tx.query('trial'), 2), true),
      batcher.run(async (tx) => (await tx.query('three'), 3), false),
    ]);
    release();
    expect(await all).toEqual([1, 2, 3]);
    expect(log.slice(2)).toEqual([
      'BEGIN', 'one',
      'SAVEPOINT iamlink_batch', 'trial', 'ROLLBACK TO SAVEPOINT iamlink_batch; RELEASE SAVEPOINT iamlink_batch',
      'three', 'COMMIT',
    ]);
  });
});
