/**
 * A client's prepared statements and portals (the extended query protocol), with the rules
 * for naming, binding and running them. Generic over `C`, what a statement was classified as:
 * the classification is the executor's, and the session may not import it (STYLE.md: imports
 * flow one way), so it is kept here as an opaque value.
 */
import { SqlError, SqlState } from '../errors.js';
import type { BindValues } from '../protocol-frames.js';

/** A statement made by Parse. */
export interface PreparedStatement<C> {
  /** The statement's text, without a trailing semicolon; '' for an empty statement. */
  readonly text: string;
  readonly classified: C;
  /** Parameter type OIDs the client gave (0 or missing: unspecified). */
  readonly paramTypes: readonly number[];
}

/** How many Bind values a statement takes. */
export type ParamRule =
  | { readonly kind: 'exactly'; readonly count: number }
  | { readonly kind: 'none' }
  /** The engine checks them (a read passed through). */
  | { readonly kind: 'any' };

/** A row-returning portal's whole answer, kept from its one run. */
export interface PortalResult {
  /** RowDescription, or NoData. */
  readonly description: Buffer;
  /** One DataRow each. */
  readonly rows: readonly Buffer[];
  /** What follows the last row: CommandComplete, after COPY's frames if any. */
  readonly completion: readonly Buffer[];
}

/** A statement bound to values by Bind. */
export class Portal<C> {
  private held: PortalResult | undefined;
  private next = 0;
  private ran = false;

  constructor(
    readonly name: string,
    readonly statement: PreparedStatement<C>,
    readonly values: BindValues,
  ) {}

  /** Its answer, once held. */
  get result(): PortalResult | undefined {
    return this.held;
  }

  /** Keep a row-returning portal's answer: later Describes and Executes are served from it. */
  hold(result: PortalResult): PortalResult {
    this.held = result;
    this.next = 0;
    return result;
  }

  /**
   * The next `maxRows` rows of the held answer (0: all that remain), and whether some are
   * still left after them (the Execute is then suspended, not complete).
   */
  takeRows(maxRows: number): { readonly rows: readonly Buffer[]; readonly suspended: boolean } {
    const all = this.held?.rows ?? [];
    const end = maxRows > 0 ? Math.min(this.next + maxRows, all.length) : all.length;
    const rows = all.slice(this.next, end);
    this.next = end;
    return { rows, suspended: end < all.length };
  }

  /** Claim the one run of a portal that changes something: it never runs again (PostgreSQL: 55000). */
  markRun(): void {
    if (this.ran) throw new SqlError(SqlState.objectNotInPrerequisiteState, `portal "${this.name}" cannot be run`);
    this.ran = true;
  }
}

/** The prepared statements and portals of one session, by name ('' is the unnamed one). */
export class PreparedStatements<C = unknown> {
  private readonly statements = new Map<string, PreparedStatement<C>>();
  private readonly portals = new Map<string, Portal<C>>();

  /**
   * Parse: `name` gets the statement `define` makes. A named statement must be new, and that
   * is checked before `define` runs, so its errors come second; the unnamed one is replaced.
   */
  prepare(name: string, define: () => PreparedStatement<C>): PreparedStatement<C> {
    if (name !== '' && this.statements.has(name)) {
      throw new SqlError(SqlState.duplicateObject, `prepared statement "${name}" already exists`);
    }
    const prepared = define();
    this.statements.set(name, prepared);
    return prepared;
  }

  /**
   * Bind: portal `name` for statement `statement` with `values`, checked against the number of
   * values `rule` says the statement takes. A named portal must be new; the unnamed one is replaced.
   */
  bind(name: string, statement: string, values: BindValues, rule: (classified: C) => ParamRule): Portal<C> {
    const prepared = this.statement(statement);
    if (name !== '' && this.portals.has(name)) throw new SqlError(SqlState.duplicateObject, `portal "${name}" already exists`);
    const supplied = values.params.length;
    const wanted = rule(prepared.classified);
    if (wanted.kind === 'exactly' && supplied !== wanted.count) {
      throw new SqlError(SqlState.protocolViolation, `bind message supplies ${supplied} parameters, but prepared statement "${statement}" requires ${wanted.count}`);
    }
    if (wanted.kind === 'none' && supplied > 0) {
      throw new SqlError(SqlState.protocolViolation, `bind message supplies ${supplied} parameters, but the statement takes none`);
    }
    const portal = new Portal(name, prepared, values);
    this.portals.set(name, portal);
    return portal;
  }

  /** The prepared statement `name`. */
  statement(name: string): PreparedStatement<C> {
    const prepared = this.statements.get(name);
    if (!prepared) throw new SqlError(SqlState.undefinedObject, `prepared statement "${name}" does not exist`);
    return prepared;
  }

  /** The portal `name`. */
  portal(name: string): Portal<C> {
    const portal = this.portals.get(name);
    if (!portal) throw new SqlError(SqlState.undefinedObject, `portal "${name}" does not exist`);
    return portal;
  }

  /** Close: forget a statement or a portal; one that does not exist is no error. */
  close(what: 'statement' | 'portal', name: string): void {
    if (what === 'statement') this.statements.delete(name);
    else this.portals.delete(name);
  }

  /** DEALLOCATE `name`, or with `undefined` DEALLOCATE ALL. Portals stay. */
  deallocate(name: string | undefined): void {
    if (name === undefined) this.statements.clear();
    else if (!this.statements.delete(name)) throw new SqlError(SqlState.undefinedObject, `prepared statement "${name}" does not exist`);
  }

  /** DISCARD ALL: every statement and every portal. */
  clear(): void {
    this.statements.clear();
    this.portals.clear();
  }

  /** Sync: the unnamed portal does not outlive it (named portals stay until closed). */
  endSync(): void {
    this.portals.delete('');
  }
}
