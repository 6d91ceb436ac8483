import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { DatabaseError, serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import { SqlError, SqlState } from '../errors.js';
import { encodeBind, type Frame } from '../protocol-frames.js';
import { scramSha256Verifier } from '../secrets/scram-verifier.js';
import { quoteIdentAlways, quoteLiteral } from '../sql/printer.js';
import { ExchangeFailure, exchangeRaw } from './pg-wire-exchange.js';
import { readCanceled, resultTooLarge } from './read-errors.js';
import { TransactionBatcher } from './transaction-batcher.js';
import { answerForClient, preparableRead, readMessages } from './client-read-messages.js';
import type { CatalogStore, ClientRead, ClientReadOptions, EngineSettings, Queryable, StoreCapabilities } from './store.js';

/**
 * Tries of one catalog transaction that concurrent ones made fail (40001, a unique race): with
 * exponential backoff and jitter, enough for 16 nodes' sessions creating at once.
 */
const MAX_ATTEMPTS = 20;
/** SQLSTATEs after which a catalog transaction is run again from the start. */
const RETRIED = new Set(['40001', '40P01', '23505']);
/** Any constant: nodes migrating one catalog wait for each other on it. */
const MIGRATION_LOCK = 7_236_117_901;
/** Prepared statements kept per pooled session before they are all dropped. */
const MAX_PREPARED = 512;
/** Past the read's own statement_timeout, how long to wait for the server's answer before giving up on the session. */
const DEADLINE_SLACK_MS = 2000;

export interface PostgresStoreOptions {
  /** Sessions for client reads (and as many for catalog work). */
  readonly poolSize: number;
  /** Where pool errors go (a node must outlive its database restarting). */
  readonly onPoolError: (err: Error) => void;
}

/**
 * The shared store: a PostgreSQL database several iamlink nodes use at once (docs/design.md §3,
 * docs/scale-out.md). Catalog work runs as the URL's role in SERIALIZABLE transactions, run
 * again when a concurrent one made them fail; client reads run on a pool of sessions logged in
 * as a restricted role created for this catalog, each in a READ ONLY transaction with the
 * client's role and a real statement_timeout, stopped by PostgreSQL's own cancel.
 */
export class PostgresStore implements CatalogStore {
  readonly capabilities: StoreCapabilities;
  /** Engine prepared statements per pooled session: (settings, types, text) → name, or null if it did not prepare. */
  private readonly prepared = new WeakMap<pg.Client, Map<string, string | null>>();
  private nextStatement = 1;
  private clients: pg.Pool | undefined;
  /** Sessions a CancelRequest was sent for: a late one could stop the next read, so they are not reused. */
  private readonly canceled = new WeakSet<pg.Client>();

  private constructor(
    private readonly catalog: pg.Pool,
    private readonly clientConfig: pg.PoolConfig,
    private readonly options: PostgresStoreOptions,
    /** The restricted role client sessions log in as. */
    readonly clientRole: string,
    /** The catalog database's name: what current_database() and psql's \l tell clients. */
    readonly databaseName: string,
    private readonly catalogIsSuperuser: boolean,
  ) {
    this.capabilities = { shared: true, clientLoginRole: clientRole };
  }

  /** Connect to the catalog database (nothing is created until `prepareClientRole`). */
  static async open(url: string, options: PostgresStoreOptions): Promise<PostgresStore> {
    const parsed = parseIntoClientConfig(url) as pg.PoolConfig;
    const base: pg.PoolConfig = {
      ...parsed,
      // Literals iamlink writes (a client's settings in a read's prelude) double quotes only: safe
      // only with standard_conforming_strings on, whatever the server, database or role default.
      options: [parsed.options, '-c standard_conforming_strings=on'].filter(Boolean).join(' '),
      max: options.poolSize,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 10_000,
    };
    const catalog = new pg.Pool(base);
    watchPool(catalog, options.onPoolError);
    try {
      const { rows } = await catalog.query<{ db: string; superuser: boolean }>(
        'SELECT current_database() AS db, (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser',
      );
      // Roles are the whole server's, catalogs one database's: one client role per catalog database.
      const clientRole = `iamlink_client_${createHash('sha256').update(rows[0]!.db).digest('hex').slice(0, 12)}`;
      return new PostgresStore(catalog, base, options, clientRole, rows[0]!.db, rows[0]!.superuser);
    } catch (err) {
      await catalog.end().catch(() => undefined);
      return rethrow(err);
    }
  }

  query<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.catalog.query<R>(sql, [...params]).then((r) => r.rows, rethrow);
  }

  exec(sql: string): Promise<void> {
    return this.catalog.query(sql).then(() => undefined, rethrow);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, options: { readonly rollback?: boolean } = {}): Promise<T> {
    return this.batcher.run(fn, options.rollback ?? false);
  }

  /**
   * One SERIALIZABLE transaction around a batch of catalog transactions (TransactionBatcher): all
   * of it is run again when a concurrent transaction (another node's) makes it fail.
   */
  private readonly batcher = new TransactionBatcher({
    inTransaction: async (body, rollback) => {
      for (let attempt = 1; ; attempt++) {
        const client = await this.catalog.connect().catch(rethrow);
        let broken: Error | undefined;
        try {
          await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
          await body(queryableOf(client));
          await client.query(rollback ? 'ROLLBACK' : 'COMMIT');
          return;
        } catch (err) {
          if (sessionUnusable(err)) broken = err as Error;
          else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
          const code = (err as { code?: string }).code;
          if (!(err instanceof SqlError) && code !== undefined && RETRIED.has(code)) {
            if (attempt < MAX_ATTEMPTS) {
              await sleep(Math.random() * Math.min(100, 2 ** attempt));
              continue;
            }
            if (code !== '23505') {
              throw new SqlError(SqlState.serializationFailure, 'could not serialize access due to concurrent catalog changes', {
                detail: `Other sessions changed the catalog at the same time; this change was tried ${MAX_ATTEMPTS} times.`,
                hint: 'Run the statement again.',
              });
            }
          }
          return rethrow(err);
        } finally {
          client.release(broken);
        }
      }
    },
    abortsTransaction: (err) => sessionUnusable(err) || (err instanceof DatabaseError && RETRIED.has(err.code ?? '')),
  });

  async withMigrationLock<T>(fn: () => Promise<T>): Promise<T> {
    // A session of its own, outside the pool: what runs under the lock needs the pool's.
    const client = new pg.Client(this.clientConfig);
    client.on('error', () => undefined);
    await client.connect().catch(rethrow);
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      return await fn();
    } finally {
      // Ending the session releases the lock.
      await client.end().catch(() => undefined);
    }
  }

  /**
   * Create (once per catalog) the role client sessions log in as: a member of iamlink_reader,
   * nothing more. Its password is generated once and kept in the catalog, which only the
   * catalog's owner can read. Call while holding the migration lock.
   */
  async afterMigrations(): Promise<string[]> {
    await this.prepareClientRole();
    return this.databaseName === 'materialize'
      ? []
      : [`the catalog database is named ${this.databaseName}, not materialize: current_database(), current_catalog and psql's \\l tell clients its name (docs/scale-out.md)`];
  }

  private async prepareClientRole(): Promise<void> {
    const role = quoteIdentAlways(this.clientRole);
    const password = await this.transaction(async (tx) => {
      const [stored] = await tx.query<{ value: string }>("SELECT value FROM iamlink_internal.config WHERE key = 'client_role_password'");
      const [exists] = await tx.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [this.clientRole]);
      if (stored && exists) return stored.value;
      const fresh = randomBytes(24).toString('base64url');
      // A verifier, not the password: nothing a statement log records can log in.
      const verifier = quoteLiteral(scramSha256Verifier(fresh));
      await tx.exec(
        exists
          ? `ALTER ROLE ${role} WITH LOGIN PASSWORD ${verifier}`
          : `CREATE ROLE ${role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD ${verifier} IN ROLE iamlink_reader`,
      );
      await tx.query(
        "INSERT INTO iamlink_internal.config (key, value) VALUES ('client_role_password', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        [fresh],
      );
      return fresh;
    });
    this.clients = new pg.Pool({ ...this.clientConfig, user: this.clientRole, password });
    watchPool(this.clients, this.options.onPoolError);
  }

  async execClientRead(read: ClientRead, options: ClientReadOptions): Promise<Frame[]> {
    if (options.cancel?.aborted) throw readCanceled('user request');
    if (options.pending) return this.readWithPending(read, options);
    if (!this.clients) throw new Error('client reads before prepareClientRole');
    const client = await this.clients.connect().catch(rethrow);
    let broken: Error | undefined;
    try {
      let statements = this.prepared.get(client);
      if (!statements) this.prepared.set(client, (statements = new Map()));
      const prelude = `BEGIN READ ONLY; ${settingsSqlOf(options.settings)}`;
      const statement = preparableRead(read);
      if (statement) {
        const key = `${options.settings.key}\0${statement.types.join(',')}\0${statement.text}`;
        const known = statements.get(key);
        if (known !== null) {
          if (known === undefined && statements.size >= MAX_PREPARED) {
            await client.query('DEALLOCATE ALL');
            statements.clear();
          }
          const name = known ?? `iamlink_auto_${this.nextStatement++}`;
          const messages = [encodeBind(name, statement.bind), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()];
          if (known === undefined) messages.unshift(serialize.parse({ name, text: statement.text, types: [...statement.types] }));
          const answer = await this.exchange(client, prelude, Buffer.concat(messages), options);
          if (known === undefined) statements.set(key, answer.some((f) => f.type === '1') ? name : null);
          if (known !== undefined || statements.get(key) !== null) {
            checkCanceled(answer, options);
            return answerForClient(answer);
          }
        }
      }
      const answer = await this.exchange(client, prelude, withExecute(read), options);
      checkCanceled(answer, options);
      return answerForClient(answer);
    } catch (err) {
      if (err instanceof ExchangeFailure || sessionUnusable(err)) broken = err as Error;
      throw err instanceof ExchangeFailure ? exchangeError(err, options) : err;
    } finally {
      client.release(broken ?? (this.canceled.has(client) ? new Error('a CancelRequest was sent for it') : undefined));
    }
  }

  /**
   * Send the prelude (a simple Query), the read's messages (ending in Sync) and a ROLLBACK in
   * one write, and return the read's answer (the prelude's error, or a too large answer, thrown).
   * One round trip per read.
   */
  private async exchange(client: pg.Client, prelude: string, read: Buffer, options: ClientReadOptions): Promise<Frame[]> {
    const messages = Buffer.concat([serialize.query(prelude), read, serialize.query('ROLLBACK')]);
    const { segments, cancelSent } = await exchangeRaw(client, messages, {
      readyCount: 3,
      maxBytes: options.maxResultBytes + 64 * 1024,
      deadlineMs: options.timeoutMs + DEADLINE_SLACK_MS,
      cancel: options.cancel,
    });
    if (cancelSent) this.canceled.add(client);
    const [setup, answer] = segments;
    const failed = setup!.find((f) => f.type === 'E');
    if (failed) throw errorOfFrame(failed);
    if (answer!.reduce((n, f) => n + f.bytes.length, 0) > options.maxResultBytes) throw resultTooLarge(options.maxResultBytes);
    return answer!;
  }

  /**
   * A read that must see the client's uncommitted catalog changes: they are replayed as the
   * catalog's owner in a transaction, the read runs in it as the client, and all is rolled back.
   */
  private async readWithPending(read: ClientRead, options: ClientReadOptions): Promise<Frame[]> {
    const client = await this.catalog.connect().catch(rethrow);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      try {
        await options.pending!(queryableOf(client));
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      }
      // As a superuser, the client's own session authorization (SET ROLE then checks the client's
      // memberships, not the superuser's), as on the embedded store; else its role.
      const become = this.catalogIsSuperuser ? settingsSqlOf(options.settings, 'SESSION AUTHORIZATION') : settingsSqlOf(options.settings);
      const answer = await this.exchange(client, `SET TRANSACTION READ ONLY; ${become}`, withExecute(read), options);
      checkCanceled(answer, options);
      return answerForClient(answer);
    } catch (err) {
      if (err instanceof ExchangeFailure || sessionUnusable(err)) broken = err as Error;
      throw err instanceof ExchangeFailure ? exchangeError(err, options) : err instanceof SqlError ? err : rethrow(err);
    } finally {
      client.release(broken ?? (this.canceled.has(client) ? new Error('a CancelRequest was sent for it') : undefined));
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.catalog.end(), this.clients?.end()].map((p) => p?.catch(() => undefined)));
  }
}

/** A read's messages through Sync: with Execute of every row, unless it only describes. */
function withExecute(read: ClientRead): Buffer {
  const tail = read.kind === 'describe' ? [serialize.sync()] : [serialize.execute({}), serialize.sync()];
  return Buffer.concat([readMessages(read), ...tail]);
}

/**
 * The client's state as statements local to the read's transaction: its settings, then its own
 * role. search_path is already a list of quoted identifiers; the rest are literals.
 */
function settingsSqlOf(settings: EngineSettings, as: 'ROLE' | 'SESSION AUTHORIZATION' = 'ROLE'): string {
  const sets = settings.values.map(([k, v]) => `SET LOCAL ${k} = ${k === 'search_path' ? v : quoteLiteral(v)}`);
  const become =
    as === 'SESSION AUTHORIZATION' && settings.sessionRole !== undefined
      ? [`SET LOCAL SESSION AUTHORIZATION ${quoteIdentAlways(settings.sessionRole)}`, `SET LOCAL ROLE ${quoteIdentAlways(settings.role)}`]
      : [`SET LOCAL ${as} ${quoteIdentAlways(settings.role)}`];
  return [...sets, ...become].join('; ');
}



/**
 * PostgreSQL's own 57014 in an answer, as every store says it: the statement timeout with the
 * limit in force (its hint), or the client's cancel. Any other answer passes as it is.
 */
function checkCanceled(answer: readonly Frame[], options: ClientReadOptions): void {
  const failed = answer.find((f) => f.type === 'E');
  if (!failed) return;
  const err = parseErrorFrame(failed);
  if (err.code !== '57014') return;
  // Ours to tell apart, not by the server's message (its lc_messages may not be English).
  throw options.cancel?.aborted ? readCanceled('user request') : readCanceled('statement timeout', options.timeoutMs);
}

/** An ErrorResponse frame from the server as a DatabaseError (code, message, detail, hint). */
function parseErrorFrame(frame: Frame): DatabaseError {
  let error: DatabaseError | undefined;
  new Parser().parse(frame.bytes, (msg) => {
    if (msg instanceof DatabaseError) error = msg;
  });
  return error ?? new DatabaseError('unreadable error from the catalog database', frame.bytes.length, 'error');
}

/** An error in a read's prelude (its settings and role): the catalog database's reason, as a SqlError. */
function errorOfFrame(frame: Frame): SqlError {
  const err = parseErrorFrame(frame);
  if (err.code === '57014') return readCanceled('user request');
  return (
    catalogConnectionError(err) ??
    new SqlError(SqlState.systemError, `the catalog database refused the read's session settings: ${err.message}`, { detail: `SQLSTATE ${err.code ?? 'unknown'}` })
  );
}

/** Why a read's exchange ended without its answer, as the client should see it. */
function exchangeError(failure: ExchangeFailure, options: ClientReadOptions): SqlError {
  if (failure.reason === 'too_large') return resultTooLarge(options.maxResultBytes);
  if (failure.reason === 'deadline') {
    // PostgreSQL's own statement_timeout would have answered by now: the network or server is stuck.
    return new SqlError(SqlState.connectionFailure, 'the catalog database did not answer in time', {
      hint: 'The node drops that session and opens another: run the statement again.',
    });
  }
  const fatal = failure.frames.find((f) => f.type === 'E');
  return (fatal && catalogConnectionError(parseErrorFrame(fatal))) || lostConnection();
}

function lostConnection(): SqlError {
  return new SqlError(SqlState.connectionFailure, 'the connection to the catalog database was lost', {
    hint: 'The node reconnects by itself: run the statement again.',
  });
}

/** SQLSTATEs of a session PostgreSQL ended: connection exceptions, operator intervention (restart, shutdown). */
const CONNECTION_CLASS = /^(08|57P)/;

/** Errors after which a catalog session is not reused: PostgreSQL ended it, or its state is unknown. */
function sessionUnusable(err: unknown): boolean {
  if (err instanceof ExchangeFailure) return true;
  if (err instanceof DatabaseError) return CONNECTION_CLASS.test(err.code ?? '');
  // Not an answer from PostgreSQL (a lost socket, or a failure of ours mid-exchange): the session's
  // state is unknown, so it is dropped rather than given to the next caller.
  return err instanceof Error && !(err instanceof SqlError);
}

/** The catalog session pg uses as the store's Queryable. */
function queryableOf(client: pg.Client): Queryable {
  return {
    query: async <R extends object>(sql: string, params: readonly unknown[] = []) => (await client.query<R>(sql, [...params])).rows,
    exec: async (sql: string) => void (await client.query(sql)),
  };
}

/** A connection-class failure from PostgreSQL as the client's error; undefined for any other error. */
function catalogConnectionError(err: DatabaseError): SqlError | undefined {
  const code = err.code ?? '';
  if (!CONNECTION_CLASS.test(code)) return undefined;
  return new SqlError(code === '57P01' ? SqlState.adminShutdown : SqlState.connectionFailure, err.message, {
    detail: 'The catalog database ended the session.',
    hint: 'The node reconnects by itself: run the statement again.',
  });
}

/** Catalog-database failures the user can act on as SqlErrors; everything else unchanged. */
function rethrow(err: unknown): never {
  if (err instanceof SqlError) throw err;
  if (err instanceof DatabaseError) throw catalogConnectionError(err) ?? err;
  const code = (err as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || /timeout exceeded when trying to connect/i.test((err as Error).message ?? '')) {
    throw new SqlError(SqlState.connectionFailure, 'could not connect to the catalog database', { hint: 'The node retries at the next statement.' });
  }
  // node-postgres's words for a session that is gone (terminated, reset, or refused after a connection error).
  if (err instanceof Error && /Connection terminated|ECONNRESET|EPIPE|not queryable|Connection ended|socket hang up/i.test(`${err.message} ${code ?? ''}`)) throw lostConnection();
  throw err;
}

/**
 * Errors of pooled sessions go to the log, never to the process: the pool reports idle ones; a
 * session in use (a raw exchange has no node-postgres query to fail) fails its own operation,
 * and is released as broken.
 */
function watchPool(pool: pg.Pool, onError: (err: Error) => void): void {
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', () => undefined));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
