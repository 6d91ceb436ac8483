import type { Queryable } from './store.js';

/** Catalog transactions one engine transaction may carry. */
const MAX_BATCH = 64;

interface Job {
  readonly fn: (tx: Queryable) => Promise<unknown>;
  readonly rollback: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/** What a store does to run one engine transaction around a batch. */
export interface BatchEngine {
  /**
   * Run `body` in one engine transaction and commit it; throw (after rolling back) if `body`
   * throws or the commit fails. A store may run `body` again (a serialization failure).
   */
  inTransaction(body: (tx: Queryable) => Promise<void>, rollback: boolean): Promise<void>;
  /** An error after which the whole engine transaction must end (the batch is retried or fails whole). */
  abortsTransaction(err: unknown): boolean;
}

/**
 * Group commit: catalog transactions that arrive while one is running are run together, each
 * in a savepoint of one engine transaction, and committed at once — one commit (one WAL flush)
 * for all of them, and on a shared catalog one transaction per node at a time instead of one
 * per client racing the others. Each keeps its own outcome: one that throws is rolled back to
 * its savepoint and fails alone; a trial (`rollback`) is rolled back to its savepoint always.
 * Outcomes are delivered only once the engine transaction has committed, so no one acts on a
 * change that was not made durable. A lone transaction runs without a savepoint.
 */
export class TransactionBatcher {
  private readonly queue: Job[] = [];
  private running = false;

  constructor(private readonly engine: BatchEngine) {}

  run<T>(fn: (tx: Queryable) => Promise<T>, rollback: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, rollback, resolve: resolve as (value: unknown) => void, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) await this.runBatch(this.queue.splice(0, MAX_BATCH));
    } finally {
      this.running = false;
    }
  }

  private async runBatch(jobs: Job[]): Promise<void> {
    let outcomes: Outcome[] = [];
    try {
      try {
        outcomes = await this.attempt(jobs, false);
      } catch (err) {
        if (!(err instanceof OneFailed)) throw err;
        // One of them failed: again, each in a savepoint, so that it fails alone.
        outcomes = await this.attempt(jobs, true);
      }
    } catch (err) {
      // The engine transaction failed as a whole: every job in it fails with that error (a lone
      // job's own error is its own).
      for (const job of jobs) job.reject(err);
      return;
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.value);
    });
  }

  /**
   * Run the jobs in one engine transaction. Optimistically (`isolated` false) with no savepoint
   * but around trials, since jobs rarely fail: a failure then throws OneFailed and the batch is
   * run again isolated, each job in a savepoint of its own.
   */
  private async attempt(jobs: Job[], isolated: boolean): Promise<Outcome[]> {
    let outcomes: Outcome[] = [];
    const alone = jobs.length === 1 ? jobs[0]! : undefined;
    await this.engine.inTransaction(async (tx) => {
      outcomes = [];
      if (alone) {
        // Alone: the engine transaction is its own (its error ends it; a trial is rolled back).
        outcomes.push({ ok: true, value: await alone.fn(tx) });
        return;
      }
      for (const job of jobs) {
        const savepoint = isolated || job.rollback;
        if (savepoint) await tx.exec('SAVEPOINT iamlink_batch');
        try {
          const value = await job.fn(tx);
          if (savepoint) await tx.exec(job.rollback ? 'ROLLBACK TO SAVEPOINT iamlink_batch; RELEASE SAVEPOINT iamlink_batch' : 'RELEASE SAVEPOINT iamlink_batch');
          outcomes.push({ ok: true, value });
        } catch (err) {
          if (this.engine.abortsTransaction(err)) throw err;
          if (!savepoint) throw new OneFailed(err);
          await tx.exec('ROLLBACK TO SAVEPOINT iamlink_batch; RELEASE SAVEPOINT iamlink_batch');
          outcomes.push({ ok: false, value: err });
        }
      }
    }, alone?.rollback ?? false);
    return outcomes;
  }
}

interface Outcome {
  readonly ok: boolean;
  readonly value: unknown;
}

/** A job of an optimistic batch failed: the batch runs again with a savepoint per job. */
class OneFailed extends Error {
  constructor(cause: unknown) {
    super('a catalog transaction of the batch failed', { cause });
  }
}
