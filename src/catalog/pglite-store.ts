import { serialize } from 'pg-protocol';
import { SqlError, SqlState } from '../errors.js';
import { framesBeforeReady, type Frame } from '../protocol-frames.js';
import { EngineThread } from './engine-thread.js';
import { Mutex } from './mutex.js';
import type { CatalogStore, LiftedQuery, Queryable } from './store.js';

/** Engine prepared statements kept for lifted client queries before they are all dropped. */
const MAX_PREPARED = 512;

/**
 * The embedded store. PGlite is a single database session shared by every client, so all
 * access is serialised here and no engine transaction is ever held open across a client's
 * round trip (DESIGN §3).
 *
 * The engine session is in one of two states: *system* (superuser, defaults: catalog work) or
 * *client* (a client's role and settings, read-only by default: its queries). Switching costs
 * a statement, so the state is kept until a different client or catalog work needs another;
 * consecutive reads by clients with the same settings then run with no wrapper at all.
 */
export class PgliteStore implements CatalogStore {
  readonly kind = 'pglite' as const;
  private readonly lock = new Mutex();
  /** Lifted query text → engine statement name, or null if the engine could not prepare it. */
  private readonly prepared = new Map<string, string | null>();
  private nextStatement = 1;
  /** The client settings applied to the engine session, or undefined in the system state. */
  private clientSettings: string | undefined;

  private constructor(
    private readonly engine: EngineThread,
    private readonly readTimeoutMs: number | undefined,
  ) {}

  /**
   * Open the data directory. `readTimeoutMs` bounds each client read: past it the engine
   * thread is stopped and reopened (PGlite cannot honour statement_timeout itself).
   */
  static async open(dataDir: string, readTimeoutMs?: number): Promise<PgliteStore> {
    return new PgliteStore(await EngineThread.open(dataDir), readTimeoutMs);
  }

  private engineQuery<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.engine.call<R[]>('query', { sql, params });
  }

  private engineExec(sql: string): Promise<void> {
    return this.engine.call<void>('exec', { sql });
  }

  query<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.lock.run(async () => {
      await this.asSystem();
      return this.engineQuery<R>(sql, params);
    });
  }

  /** Run a multi-statement script (migrations). */
  exec(sql: string): Promise<void> {
    return this.lock.run(async () => {
      await this.asSystem();
      await this.engineExec(sql);
    });
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      await this.asSystem();
      await this.engineExec('BEGIN');
      try {
        const result = await fn({ query: (sql, params) => this.engineQuery(sql, params), exec: (sql) => this.engineExec(sql) });
        await this.engineExec('COMMIT');
        return result;
      } catch (err) {
        await this.engineExec('ROLLBACK');
        throw err;
      }
    });
  }

  private async asSystem(): Promise<void> {
    if (this.clientSettings === undefined) return;
    await this.engineExec('RESET ROLE; RESET ALL');
    this.clientSettings = undefined;
  }

  /** Apply a client's settings (see Session.engineSettings) to the engine session. */
  private async asClient(settingsSql: string): Promise<void> {
    if (this.clientSettings === settingsSql) return;
    this.clientSettings = undefined;
    try {
      await this.engineExec(`RESET ROLE; RESET ALL; ${settingsSql}`);
    } catch (err) {
      await this.engineExec('RESET ROLE; RESET ALL');
      throw err;
    }
    this.clientSettings = settingsSql;
  }

  execUserProtocol(settingsSql: string, messages: Buffer): Promise<Frame[]> {
    return this.lock.run(() => this.runWrapped(settingsSql, messages));
  }

  execUserQuery(settingsSql: string, text: string, lifted?: LiftedQuery): Promise<Frame[]> {
    return this.lock.run(async () => {
      const statement = lifted && this.prepared.get(lifted.text);
      if (lifted && statement !== null) {
        const out = await this.runPrepared(settingsSql, lifted, statement);
        if (out) return out;
      }
      return this.runWrapped(settingsSql, serialize.query(text));
    });
  }

  /**
   * Run a lifted query as an engine prepared statement, preparing it on first use. Returns
   * undefined when the engine cannot prepare it (the caller then runs the plain text).
   */
  private async runPrepared(settingsSql: string, lifted: LiftedQuery, known: string | undefined): Promise<Frame[] | undefined> {
    if (known === undefined && this.prepared.size >= MAX_PREPARED) {
      await this.engineExec('DEALLOCATE ALL');
      this.prepared.clear();
    }
    const name = known ?? `iamlink_auto_${this.nextStatement++}`;
    const messages = [
      serialize.bind({ statement: name, values: [...lifted.params] }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ];
    if (known === undefined) messages.unshift(serialize.parse({ name, text: lifted.text, types: [...lifted.types] }));
    const frames = await this.runWrapped(settingsSql, Buffer.concat(messages));
    if (known === undefined) {
      const prepared = frames.some((f) => f.type === '1');
      this.prepared.set(lifted.text, prepared ? name : null);
      if (!prepared) return undefined;
    }
    return frames.filter((f) => f.type !== '1' && f.type !== '2');
  }

  /** Run client messages (ending in Sync or a Query) under the client's settings. */
  private async runWrapped(settingsSql: string, messages: Buffer): Promise<Frame[]> {
    await this.asClient(settingsSql);
    let out: Uint8Array;
    try {
      out = await this.engine.call<Uint8Array>('raw', { messages, syncToFs: false }, this.readTimeoutMs);
    } catch (err) {
      if (err instanceof SqlError && err.code === SqlState.queryCanceled) {
        // The engine thread was restarted: a fresh session, no prepared statements.
        this.clientSettings = undefined;
        this.prepared.clear();
      }
      throw err;
    }
    return framesBeforeReady(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  }

  async close(): Promise<void> {
    await this.lock.run(() => this.engine.close());
  }
}
