import { PGlite } from '@electric-sql/pglite';
import { serialize } from 'pg-protocol';
import type { CatalogStore, Queryable } from './store.js';
import { userSegment } from './protocol-frames.js';
import { Mutex } from './mutex.js';

/**
 * The embedded store. PGlite is a single database session shared by every client, so all
 * access is serialised here and no engine transaction is ever held open across a client's
 * round trip (DESIGN §3).
 */
export class PgliteStore implements CatalogStore {
  readonly kind = 'pglite' as const;
  private readonly lock = new Mutex();

  private constructor(private readonly pg: PGlite) {}

  static async open(dataDir: string): Promise<PgliteStore> {
    const pg = await PGlite.create(dataDir);
    return new PgliteStore(pg);
  }

  query<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.lock.run(async () => (await this.pg.query<R>(sql, params as unknown[])).rows);
  }

  /** Run a multi-statement script (migrations). */
  exec(sql: string): Promise<void> {
    return this.lock.run(async () => {
      await this.pg.exec(sql);
    });
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.lock.run(() =>
      this.pg.transaction(async (tx) =>
        fn({
          query: async <R extends object>(sql: string, params: readonly unknown[] = []) => (await tx.query<R>(sql, params as unknown[])).rows,
          exec: async (sql: string) => {
            await tx.exec(sql);
          },
        }),
      ),
    );
  }

  execUserProtocol(prefixSql: string, messages: Buffer): Promise<Buffer> {
    return this.lock.run(async () => {
      const batch = Buffer.concat([serialize.query(prefixSql), messages, serialize.query('ROLLBACK')]);
      try {
        const out = await this.pg.execProtocolRaw(batch, { syncToFs: false });
        return userSegment(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
      } finally {
        // Never leave the shared session inside a transaction, whatever happened above.
        if (this.pg.isInTransaction()) await this.pg.exec('ROLLBACK');
      }
    });
  }

  async close(): Promise<void> {
    await this.lock.run(() => this.pg.close());
  }
}
