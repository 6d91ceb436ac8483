import { serialize } from 'pg-protocol';
import { SqlError, SqlState } from '../errors.js';
import { encodeBind, framesBeforeReady, type BindValues, type Frame } from '../protocol-frames.js';
import { AnswerCache } from './answer-cache.js';
import { readCanceled, resultTooLarge } from './read-errors.js';
import { EngineThread } from './engine-thread.js';
import { Mutex } from './mutex.js';
import { TransactionBatcher } from './transaction-batcher.js';
import { answerForClient, preparableRead, readMessages } from './client-read-messages.js';
import { quoteIdentAlways, quoteLiteral } from '../sql/printer.js';
import type { CatalogStore, ClientRead, ClientReadOptions, EngineSettings, Queryable, StoreCapabilities } from './store.js';

/** Engine prepared statements kept for lifted client queries before they are all dropped. */
const MAX_PREPARED = 512;
/** Rows per engine round while a portal runs: bounds what one round holds in memory. */
const CHUNK_ROWS = 1000;

/**
 * What a client read must leave exactly as it found it (docs/read-only-gate.md): who the
 * session is and the settings that decide what later statements may do. Read back after every
 * client read; schema-qualified so that no search_path can redirect it.
 */
const STATE_CHECK_SQL = `SELECT pg_catalog.concat_ws('|', current_user, session_user, ${[
  'is_superuser',
  'default_transaction_read_only',
  'search_path',
  'statement_timeout',
  'session_replication_role',
  'row_security',
  'lo_compat_privileges',
  'standard_conforming_strings',
  'default_transaction_isolation',
  'TimeZone',
  'DateStyle',
  'IntervalStyle',
  'extra_float_digits',
  'bytea_output',
  'application_name',
  'iamlink.role_id',
]
  // A custom setting never set reads NULL, once set and reset ''; both mean unset.
  .map((name) => `COALESCE(pg_catalog.current_setting('${name}', true), '')`)
  .join(', ')})`;

interface ClientResult {
  readonly output: Uint8Array;
  readonly capped: boolean;
  readonly state: string | null;
}

/**
 * The embedded store. PGlite is a single database session shared by every client, so all
 * access is serialised here and no engine transaction is ever held open across a client's
 * round trip (docs/design.md §3).
 *
 * The engine session is in one of two states: *system* (superuser, defaults: catalog work) or
 * *client* (a client's session authorization and settings, read-only by default: its queries).
 * Switching costs a statement, so the state is kept until a different client or catalog work
 * needs another; consecutive reads by clients with the same settings run with no wrapper.
 */
export class PgliteStore implements CatalogStore {
  readonly capabilities: StoreCapabilities = { shared: false };
  private readonly lock = new Mutex();
  /** Answers of repeatable reads, until the next catalog write (this process is the only writer). */
  private readonly answers = new AnswerCache(32 * 1024 * 1024);
  /** (client settings, parameter types, lifted text) → engine statement name, or null if the engine could not prepare it. */
  private readonly prepared = new Map<string, string | null>();
  private nextStatement = 1;
  /** The client settings applied to the engine session, or undefined in the system state. */
  private clientSettings: string | undefined;
  /** The state check's answer in the state now applied. */
  private expectedState: string | null = null;
  private systemState: string | null = null;
  /**
   * Back to the system state: the engine's own superuser and defaults. Said explicitly, since
   * PGlite's RESET SESSION AUTHORIZATION leaves the client's in place.
   */
  private resetSql = '';
  /** The engine session the fields above describe (EngineThread.generation). */
  private generation: number;

  private constructor(private readonly engine: EngineThread) {
    this.generation = engine.generation;
  }

  static async open(dataDir: string): Promise<PgliteStore> {
    const engine = await EngineThread.open(dataDir);
    const store = new PgliteStore(engine);
    try {
      const [me] = await store.engineQuery<{ who: string }>('SELECT session_user AS who');
      store.resetSql = `SET SESSION AUTHORIZATION "${me!.who.replace(/"/g, '""')}"; RESET ROLE; RESET ALL`;
      store.systemState = await store.readState();
    } catch (err) {
      await engine.close().catch(() => undefined);
      throw err;
    }
    return store;
  }

  private engineQuery<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.engine.call<R[]>('query', { sql, params });
  }

  private engineExec(sql: string): Promise<void> {
    return this.engine.call<void>('exec', { sql });
  }

  /** The state check's answer now (the engine thread runs it as a prepared statement). */
  private readState(): Promise<string | null> {
    return this.engine.call<string | null>('state', { checkSql: STATE_CHECK_SQL });
  }

  private readonly tx: Queryable = { query: (sql, params) => this.engineQuery(sql, params), exec: (sql) => this.engineExec(sql) };

  query<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.lock.run(async () => {
      this.answers.clear();
      await this.asSystem();
      return this.engineQuery<R>(sql, params);
    });
  }

  /** Run a multi-statement script (migrations). */
  exec(sql: string): Promise<void> {
    return this.lock.run(async () => {
      this.answers.clear();
      await this.asSystem();
      await this.engineExec(sql);
    });
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, options: { readonly rollback?: boolean } = {}): Promise<T> {
    return this.batcher.run(fn, options.rollback ?? false);
  }

  /** One engine transaction around a batch of catalog transactions (TransactionBatcher), in the lock. */
  private readonly batcher = new TransactionBatcher({
    inTransaction: (body, rollback) =>
      this.lock.run(async () => {
        await this.asSystem();
        await this.engineExec('BEGIN');
        try {
          await body(this.tx);
          await this.engineExec(rollback ? 'ROLLBACK' : 'COMMIT');
        } catch (err) {
          await this.engineExec('ROLLBACK');
          throw err;
        }
        // Cleared after the commit, inside the lock: no read can cache an answer from before it.
        if (!rollback) this.answers.clear();
      }),
    abortsTransaction: () => false,
  });

  async afterMigrations(): Promise<string[]> {
    return [];
  }

  /** One process owns the data directory (its lock): there is no one to wait for. */
  withMigrationLock<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  /** A restarted engine (a timeout, a cancel, a crash) is a fresh session in the system state. */
  private noticeRestart(): void {
    if (this.engine.generation === this.generation) return;
    this.generation = this.engine.generation;
    this.clientSettings = undefined;
    this.prepared.clear();
  }

  private async asSystem(): Promise<void> {
    this.noticeRestart();
    if (this.clientSettings === undefined) return;
    this.clientSettings = undefined;
    await this.engineExec(this.resetSql);
  }

  /** Apply a client's settings (see Session.engineSettings) to the engine session. */
  private async asClient(settingsSql: string): Promise<void> {
    this.noticeRestart();
    if (this.clientSettings === settingsSql) return;
    this.clientSettings = undefined;
    try {
      await this.engineExec(`${this.resetSql}; ${settingsSql}`);
      this.expectedState = await this.readState();
    } catch (err) {
      await this.engineExec(this.resetSql);
      throw err;
    }
    this.clientSettings = settingsSql;
  }

  execClientRead(read: ClientRead, options: ClientReadOptions): Promise<Frame[]> {
    const canceled = (): SqlError => readCanceled('user request');
    const key = this.answers.keyOf(read, options);
    const known = key === undefined ? undefined : this.answers.get(key);
    if (known) return options.cancel?.aborted ? Promise.reject(canceled()) : Promise.resolve(known);
    return this.lock.run(
      async () => {
        if (options.pending) return this.readWithPending(read, options);
        if (key !== undefined) {
          const answer = await this.runRead(read, options);
          this.answers.put(key, answer);
          return answer;
        }
        return this.runRead(read, options);
      },
      options.cancel,
      canceled,
    );
  }

  /** A read on the engine (in the lock). */
  private async runRead(read: ClientRead, options: ClientReadOptions): Promise<Frame[]> {
    // A lifted simple query, or a client's portal: an engine prepared statement, planned once.
    const statement = preparableRead(read);
    if (statement) {
      const out = await this.runPrepared(statement.text, statement.types, statement.bind, options);
      if (out) return answerForClient(out);
    }
    await this.asClient(settingsSqlOf(options.settings));
    return answerForClient(await this.runClient(readMessages(read), read.kind !== 'describe', options, this.expectedState));
  }

  /**
   * A read that must see the client's uncommitted catalog changes: they are applied as the
   * system in one engine transaction, the read runs in it as the client, and all of it is
   * rolled back (session settings made inside it revert with it).
   */
  private async readWithPending(read: ClientRead, options: ClientReadOptions): Promise<Frame[]> {
    await this.asSystem();
    await this.engineExec('BEGIN');
    try {
      await options.pending!(this.tx);
      // The replay wrote as the system: what follows in this transaction only reads.
      await this.engineExec(`SET TRANSACTION READ ONLY; ${settingsSqlOf(options.settings)}`);
    } catch (err) {
      await this.engineExec('ROLLBACK');
      throw err;
    }
    // The engine thread rolls the transaction back once the read is done; a read stopped before
    // it reached the engine leaves that to us.
    const generation = this.engine.generation;
    try {
      return answerForClient(await this.runClient(readMessages(read), read.kind !== 'describe', options, this.systemState));
    } catch (err) {
      if (this.engine.generation === generation) await this.engineExec('ROLLBACK');
      throw err;
    }
  }

  /**
   * Run a statement as an engine prepared statement, preparing it on first use (a lifted simple
   * query, or a client's prepared statement: drivers' extended protocol then costs no planning
   * either). Returns undefined when the engine cannot prepare it (the caller then runs it
   * plainly, which also reports the engine's error). The statement is keyed by everything that
   * decides its plan: the parameter types (`5 / 2` and `5.0 / 2` lift to one text) and the
   * client's settings (search_path, TimeZone, DateStyle apply when a literal is parsed, at
   * prepare time).
   */
  private async runPrepared(text: string, types: readonly number[], bind: BindValues, options: ClientReadOptions): Promise<Frame[] | undefined> {
    const key = `${settingsSqlOf(options.settings)}\0${types.join(',')}\0${text}`;
    const known = this.prepared.get(key);
    if (known === null) return undefined;
    await this.asClient(settingsSqlOf(options.settings));
    if (known === undefined && this.prepared.size >= MAX_PREPARED) {
      await this.asSystem();
      await this.engineExec('DEALLOCATE ALL');
      this.prepared.clear();
      await this.asClient(settingsSqlOf(options.settings));
    }
    const name = known ?? `iamlink_auto_${this.nextStatement++}`;
    const messages = [encodeBind(name, bind), serialize.describe({ type: 'P' })];
    if (known === undefined) messages.unshift(serialize.parse({ name, text, types: [...types] }));
    const frames = await this.runClient(Buffer.concat(messages), true, options, this.expectedState);
    if (known === undefined) {
      const prepared = frames.some((f) => f.type === '1');
      this.prepared.set(key, prepared ? name : null);
      if (!prepared) return undefined;
    }
    return frames;
  }

  /** Run client messages in the engine thread and check the session's state afterwards. */
  private async runClient(messages: Buffer, execute: boolean, options: ClientReadOptions, expectedState: string | null): Promise<Frame[]> {
    let result: ClientResult;
    try {
      result = await this.engine.call<ClientResult>(
        'client',
        { messages, execute, chunkRows: CHUNK_ROWS, maxBytes: options.maxResultBytes, checkSql: STATE_CHECK_SQL },
        { deadlineMs: options.timeoutMs, signal: options.cancel },
      );
    } catch (err) {
      this.noticeRestart();
      throw err;
    }
    if (result.state !== expectedState) {
      // Something got past the gate and the engine's privileges: never let it outlive this read.
      await this.engine.reset();
      this.noticeRestart();
      throw new SqlError(SqlState.insufficientPrivilege, 'permission denied: the query changed the session\'s role or settings', {
        hint: 'Client queries may read the catalog; they may not change settings. The engine session was reset.',
      });
    }
    if (result.capped) {
      throw resultTooLarge(options.maxResultBytes);
    }
    return framesBeforeReady(Buffer.from(result.output.buffer, result.output.byteOffset, result.output.byteLength));
  }

  async close(): Promise<void> {
    await this.lock.run(() => this.engine.close());
  }
}

/**
 * SQL that puts the engine session in a client's state: its settings as the system, then its own
 * session authorization (SET ROLE then checks the client's membership, not the engine superuser's).
 */
function settingsSqlOf(settings: EngineSettings): string {
  const known = settingsSql.get(settings);
  if (known !== undefined) return known;
  const assignments = settings.values.map(([k, v]) => `pg_catalog.set_config(${quoteLiteral(k)}, ${quoteLiteral(v)}, false)`).join(', ');
  const become =
    settings.sessionRole === undefined
      ? `SET SESSION AUTHORIZATION ${quoteIdentAlways(settings.role)}`
      : `SET SESSION AUTHORIZATION ${quoteIdentAlways(settings.sessionRole)}; SET ROLE ${quoteIdentAlways(settings.role)}`;
  const sql = `SELECT ${assignments}; ${become}`;
  settingsSql.set(settings, sql);
  return sql;
}
const settingsSql = new WeakMap<EngineSettings, string>();


