import type { Frame } from '../protocol-frames.js';

/**
 * The storage engine behind the catalog. Two implementations share one SQL dialect and one
 * migrations folder: PGlite (embedded, default) and PostgreSQL (shared, scale-out).
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

/** Something that runs parameterised SQL: the store itself or an open transaction. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Run a script of several statements without parameters. */
  exec(sql: string): Promise<void>;
}

export interface CatalogStore extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Run `fn` in one engine transaction; rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Run a client's read-only protocol messages (a Query, or Parse/Bind/Describe/Execute/Sync)
   * with the client's engine settings in force (`settingsSql`, from Session.engineSettings:
   * its role, search_path, read-only default), and return the engine's backend messages for
   * them without their closing ReadyForQuery.
   */
  execUserProtocol(settingsSql: string, messages: Buffer): Promise<Frame[]>;
  /**
   * A client's simple-protocol read. With `lifted` (its literals as parameters) the store may
   * run a cached prepared statement instead of planning the text again; same answer either way.
   */
  execUserQuery(settingsSql: string, text: string, lifted?: LiftedQuery): Promise<Frame[]>;
  close(): Promise<void>;
}
