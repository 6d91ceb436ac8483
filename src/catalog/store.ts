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

/** What a client asks the engine: already through the read-only gate. */
export type ClientRead =
  /** A simple-protocol read; with `lifted`, the store may run a cached prepared statement (same answer). */
  | { readonly kind: 'query'; readonly text: string; readonly lifted?: LiftedQuery }
  /** An extended-protocol portal: the client's statement and its Bind values. */
  | { readonly kind: 'portal'; readonly text: string; readonly paramTypes: readonly number[]; readonly bind: BindValues }
  /** Describe a statement: ParameterDescription and RowDescription (or NoData). */
  | { readonly kind: 'describe'; readonly text: string; readonly paramTypes: readonly number[] };

export interface ClientReadOptions {
  /** SQL that puts the engine session in the client's state (Session.engineSettings). */
  readonly settingsSql: string;
  /** The read is stopped with 57014 past this. */
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

export interface CatalogStore extends Queryable {
  /**
   * Run `fn` in one engine transaction: committed when it returns (or, with `rollback`, always
   * rolled back: a trial run), rolled back if it throws.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly rollback?: boolean }): Promise<T>;
  /** Run a client's read and return the engine's messages for it, without the closing ReadyForQuery. */
  execClientRead(read: ClientRead, options: ClientReadOptions): Promise<Frame[]>;
  close(): Promise<void>;
}
