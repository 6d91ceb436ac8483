import type { BindValues, Frame } from '../protocol-frames.js';

/**
 * The storage engine behind the catalog. Two ports: catalog work (`query` / `exec` /
 * `transaction`, run as the system) and client reads (a request value in, the engine's
 * protocol answer out, run as the client's own restricted engine role). PGlite (embedded,
 * default) and PostgreSQL (shared, scale-out) share one SQL dialect and one migrations folder.
 */

/** A client read with its literals lifted into parameters (see exec/literal-lifting.ts). */
export interface LiftedQuery {
  /** The statement with literals replaced by $1, $2, ... */
  readonly text: string;
  /** Literal values as text, in parameter order. */
  readonly params: readonly string[];
  /** Parameter type oids: 0 (unspecified, like an untyped literal) for strings, int4/int8/numeric for numbers. */
  readonly types: readonly number[];
}

/**
 * What a client asks the engine: already through the read-only gate. `repeatable`: the answer
 * depends only on the read itself, the client's settings and the catalog (the gate's
 * `deterministic`), so a store may answer it again from a cache until the catalog changes.
 */
export type ClientRead =
  /** A simple-protocol read; with `lifted`, the store may run a cached prepared statement (same answer). */
  | { readonly kind: 'query'; readonly text: string; readonly lifted?: LiftedQuery; readonly repeatable?: boolean }
  /** An extended-protocol portal: the client's statement and its Bind values. */
  | { readonly kind: 'portal'; readonly text: string; readonly paramTypes: readonly number[]; readonly bind: BindValues; readonly repeatable?: boolean }
  /** Describe a statement: ParameterDescription and RowDescription (or NoData). */
  | { readonly kind: 'describe'; readonly text: string; readonly paramTypes: readonly number[] };

/** The engine state a client read runs in (Session.engineSettings); each store applies it its own way. */
export interface EngineSettings {
  /** The engine role the read runs as (the client's current role). */
  readonly role: string;
  /** The engine role to show as session_user, a member of `role` (after SET ROLE); else `role` is both. */
  readonly sessionRole?: string;
  /** Settings for the read, in order: default_transaction_read_only, search_path, statement_timeout, the client's own. */
  readonly values: readonly (readonly [string, string])[];
  /** All of it as one string: equal keys, equal state. */
  readonly key: string;
}

export interface ClientReadOptions {
  readonly settings: EngineSettings;
  /** The session's statement_timeout: the read is stopped with 57014 past this. */
  readonly timeoutMs: number;
  /** A client's CancelRequest: stops the read (queued or running) with 57014. */
  readonly cancel?: AbortSignal;
  /** An answer larger than this fails with 54000 and is never held whole. */
  readonly maxResultBytes: number;
  /** The client's uncommitted catalog changes: replayed first, in the read's own engine transaction, then rolled back. */
  readonly pending?: (tx: Queryable) => Promise<void>;
}

/** Something that runs parameterised SQL: the store itself or an open transaction. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Run a script of several statements without parameters. */
  exec(sql: string): Promise<void>;
}

/** Where the backends really differ. */
export interface StoreCapabilities {
  /** Several iamlink nodes may share this catalog (PostgreSQL); one process owns it (PGlite). */
  readonly shared: boolean;
  /** The engine role client sessions log in as, which must be granted each login's role (PostgreSQL). */
  readonly clientLoginRole?: string;
}

export interface CatalogStore extends Queryable {
  readonly capabilities: StoreCapabilities;
  /**
   * Run `fn` in one engine transaction: committed when it returns (or, with `rollback`, always
   * rolled back: a trial run), rolled back if it throws.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly rollback?: boolean }): Promise<T>;
  /** Run a client's read and return the engine's messages for it, without the closing ReadyForQuery. */
  execClientRead(read: ClientRead, options: ClientReadOptions): Promise<Frame[]>;
  /**
   * Run `fn` while holding the catalog's migration lock: nodes starting at once migrate and
   * settle the catalog's identity one at a time.
   */
  withMigrationLock<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Make ready what the migrations cannot (under the migration lock): on the shared store, the
   * client role and its pool. Returns what the operator should be warned about.
   */
  afterMigrations(): Promise<string[]>;
  close(): Promise<void>;
}
