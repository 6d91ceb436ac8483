/**
 * Runs one classified statement for a session: our DDL through planner and catalog, session
 * commands against the session, reads through the engine.
 */
import type { Catalog, ItemIds } from '../catalog/catalog.js';
import type { AwsConnectionDef } from '../catalog/model.js';
import type { CatalogStore, Queryable } from '../catalog/store.js';
import type { Frame } from '../protocol-frames.js';
import { SqlError, SqlState } from '../errors.js';
import type { Logger } from '../log.js';
import { catalogViewOf } from '../plan/catalog-view.js';
import type { Notice, Planned } from '../plan/plan.js';
import { planStatement } from '../plan/planner.js';
import type { Session } from '../session/session.js';
import { settingSpec, SETTINGS } from '../session/settings.js';
import type { ObjectName, Statement } from '../sql/ast.js';
import { quoteIdent, quoteLiteral } from '../sql/printer.js';
import { applyPlan } from './apply-plan.js';
import type { Classified } from './classify.js';
import type { LiftedQuery } from './literal-lifting.js';
import type { GatedStatement, TransactionAction } from './query-gate.js';
import { validateConnection, type ValidationContext } from './validation.js';

export type Outcome =
  | { readonly kind: 'command'; readonly tag: string; readonly notices: readonly Notice[]; readonly parameterStatus: readonly (readonly [string, string])[] }
  | { readonly kind: 'rows'; readonly columns: readonly string[]; readonly rows: readonly (readonly (string | null)[])[]; readonly tag: string }
  /** What the engine said for a read: RowDescription, DataRows, CommandComplete or ErrorResponse, notices. */
  | { readonly kind: 'engine'; readonly frames: readonly Frame[] };

/**
 * Sends a read's SQL to the engine the way the client asked (simple or extended) and returns
 * its frames. `clientParams`: the SQL is the client's own and takes the client's parameters.
 */
export type ReadRunner = (sql: string, clientParams: boolean, lifted?: LiftedQuery) => Promise<Frame[]>;

export interface ExecutorDeps {
  readonly store: CatalogStore;
  readonly catalog: Catalog;
  readonly log: Logger;
  readonly principalConfigured: boolean;
  readonly validation?: ValidationContext;
}

const command = (tag: string, notices: readonly Notice[] = [], parameterStatus: (readonly [string, string])[] = []): Outcome => ({
  kind: 'command',
  tag,
  notices,
  parameterStatus,
});

export class Executor {
  constructor(private readonly deps: ExecutorDeps) {}

  /** Run one statement; `cancel` is the client's CancelRequest for it. */
  async execute(session: Session, c: Classified, runRead: ReadRunner, cancel?: AbortSignal): Promise<Outcome> {
    if (cancel?.aborted) throw new SqlError(SqlState.queryCanceled, 'canceling statement due to user request');
    if (session.transactionStatus === 'E' && !(c.kind === 'gated' && c.gated.kind === 'transaction' && ['commit', 'rollback', 'rollback_to'].includes(c.gated.action))) {
      throw new SqlError(SqlState.inFailedSqlTransaction, 'current transaction is aborted, commands ignored until end of transaction block');
    }
    switch (c.kind) {
      case 'empty':
        return command('');
      case 'own':
        return this.executeOwn(session, c.stmt, runRead, cancel);
      case 'gated':
        return this.executeGated(session, c.gated, c.text, runRead);
    }
  }

  /** The SQL a row-returning own statement reads, planned against the current catalog. */
  async readSqlOf(session: Session, stmt: Statement): Promise<string> {
    const planned = await this.deps.store.transaction((tx) => this.plan(tx, session, stmt));
    if (planned.plan.kind !== 'query') throw new Error(`${stmt.kind} does not read`);
    return planned.plan.sql;
  }

  private async executeOwn(session: Session, stmt: Statement, runRead: ReadRunner, cancel?: AbortSignal): Promise<Outcome> {
    const { store, catalog } = this.deps;
    const first = await store
      .transaction(async (tx): Promise<{ planned: Planned; validateAs?: string; ids?: ItemIds }> => {
        const p = await this.plan(tx, session, stmt);
        const writes = p.plan.kind !== 'query' && p.plan.kind !== 'noop' && p.plan.kind !== 'validate_connection';
        if (writes && session.transactionStatus !== 'I') {
          throw new SqlError(SqlState.activeSqlTransaction, `${p.tag} cannot run inside a transaction block`, {
            hint: 'Run it on its own, outside BEGIN ... COMMIT: each catalog change commits by itself.',
          });
        }
        // WITH (VALIDATE = true): validate first, with the id the connection will have, and
        // commit only if that succeeds. No engine transaction stays open during the remote calls.
        if (p.plan.kind === 'create_connection' && p.plan.validate) {
          const ids = await catalog.allocateIds(tx);
          return { planned: p, validateAs: ids.id, ids };
        }
        if (p.plan.kind === 'alter_connection' && p.plan.validate) return { planned: p, validateAs: p.plan.id };
        await applyPlan(catalog, tx, p.plan, session.roleId);
        return { planned: p };
      })
      .catch(mapStoreError);
    const { planned, validateAs, ids } = first;
    const plan = planned.plan;
    switch (plan.kind) {
      case 'create_connection':
      case 'alter_connection':
        if (validateAs !== undefined) {
          await this.validate(validateAs, plan.connection.definition, cancel);
          await this.commitValidated(session, stmt, plan.connection.definition, ids);
        }
        return command(planned.tag, planned.notices);
      case 'query':
        return { kind: 'engine', frames: await runRead(plan.sql, false) };
      case 'validate_connection':
        await this.validate(plan.id, plan.definition, cancel);
        return command(planned.tag, planned.notices);
      default:
        return command(planned.tag, planned.notices);
    }
  }

  /** Plan again and commit a validated CREATE/ALTER, unless the catalog changed meanwhile. */
  private async commitValidated(session: Session, stmt: Statement, validated: AwsConnectionDef, ids: ItemIds | undefined): Promise<void> {
    await this.deps.store
      .transaction(async (tx) => {
        const again = await this.plan(tx, session, stmt);
        const same = (again.plan.kind === 'create_connection' || again.plan.kind === 'alter_connection') && JSON.stringify(again.plan.connection.definition) === JSON.stringify(validated);
        if (!same) {
          throw new SqlError(SqlState.serializationFailure, 'the catalog changed while the connection was being validated', { hint: 'Run the statement again.' });
        }
        await applyPlan(this.deps.catalog, tx, again.plan, session.roleId, ids);
      })
      .catch(mapStoreError);
  }

  private async plan(tx: Queryable, session: Session, stmt: Statement): Promise<Planned> {
    const items = await this.deps.catalog.loadForNames(tx, namesIn(stmt));
    return planStatement(stmt, catalogViewOf(items), this.planContext(session));
  }

  private async validate(id: string, definition: AwsConnectionDef, cancel?: AbortSignal): Promise<void> {
    const { validation, store, catalog, log } = this.deps;
    if (!validation) throw new SqlError(SqlState.featureNotSupported, 'connection validation is not configured on this server');
    await validateConnection(validation, store, catalog, log, id, definition, cancel);
  }

  private async executeGated(session: Session, g: GatedStatement, text: string, runRead: ReadRunner): Promise<Outcome> {
    switch (g.kind) {
      case 'read':
        return { kind: 'engine', frames: await runRead(g.text, true, g.lifted) };
      case 'show': {
        const spec = SETTINGS[g.name];
        if (!spec) return { kind: 'engine', frames: await runRead(text, true) };
        return { kind: 'rows', columns: [g.name], rows: [[session.get(g.name)]], tag: 'SHOW' };
      }
      case 'set': {
        if (g.name === 'transaction' || g.name === 'session characteristics') return command('SET');
        const value = g.name === 'search_path' && g.value !== undefined ? g.args.map((a) => quoteIdent(a.value)).join(', ') : g.value;
        const spec = settingSpec(g.name);
        if (spec.engine && value !== undefined) await this.checkEngineSetting(g.name, value);
        const reported = session.set(g.name, value);
        return command(value === undefined ? 'RESET' : 'SET', [], reported ? [[reported, session.get(g.name)]] : []);
      }
      case 'reset_all':
        return command('RESET', [], session.resetAll().map((d) => [d, session.get(d)] as const));
      case 'discard_all':
        session.resetAll();
        return command('DISCARD ALL');
      case 'deallocate':
        // The wire layer owns prepared statements; it handles the tag's side effect.
        return command('DEALLOCATE');
      case 'transaction':
        return this.transaction(session, g.action);
    }
  }

  /** Try a setting in the engine so that a bad value fails now, not on every later query. */
  private async checkEngineSetting(name: string, value: string): Promise<void> {
    try {
      await this.deps.store.transaction((tx) => tx.exec(`SET LOCAL ${name} = ${quoteLiteral(value)}`));
    } catch (err) {
      throw new SqlError(SqlState.invalidParameterValue, `invalid value for parameter "${name}"`, { detail: (err as Error).message });
    }
  }

  private transaction(session: Session, action: TransactionAction): Outcome {
    const status = session.transactionStatus;
    switch (action) {
      case 'begin':
        if (status !== 'I') return command('BEGIN', [{ code: SqlState.activeSqlTransaction, message: 'there is already a transaction in progress', severity: 'WARNING' }]);
        session.transactionStatus = 'T';
        return command('BEGIN');
      case 'commit':
      case 'rollback': {
        session.transactionStatus = 'I';
        const notices: Notice[] = status === 'I' ? [{ code: SqlState.invalidTransactionState, message: 'there is no transaction in progress', severity: 'WARNING' }] : [];
        return command(action === 'commit' && status !== 'E' ? 'COMMIT' : 'ROLLBACK', notices);
      }
      case 'savepoint':
      case 'release':
      case 'rollback_to':
        if (status === 'I') {
          throw new SqlError(SqlState.invalidTransactionState, `${action === 'savepoint' ? 'SAVEPOINT' : action === 'release' ? 'RELEASE SAVEPOINT' : 'ROLLBACK TO SAVEPOINT'} can only be used in transaction blocks`);
        }
        if (action === 'rollback_to') session.transactionStatus = 'T';
        return command(action === 'savepoint' ? 'SAVEPOINT' : action === 'release' ? 'RELEASE' : 'ROLLBACK');
    }
  }

  private planContext(session: Session): { searchPath: string[]; principalConfigured: boolean } {
    return { searchPath: session.searchPath(), principalConfigured: this.deps.principalConfigured };
  }
}

/** Item names a statement mentions: what the executor loads for the planner. */
function namesIn(stmt: Statement): string[] {
  const names: ObjectName[] = [];
  switch (stmt.kind) {
    case 'create_secret':
    case 'alter_secret':
    case 'validate_connection':
    case 'show_create_connection':
      names.push(stmt.name);
      break;
    case 'rename':
      names.push(stmt.name, { parts: [stmt.newName], pos: stmt.newName.pos });
      break;
    case 'drop_objects':
      names.push(...stmt.names);
      break;
    case 'create_connection':
      names.push(stmt.name);
      for (const o of stmt.options) if (o.value?.kind === 'secret') names.push(o.value.name);
      break;
    case 'alter_connection':
      names.push(stmt.name);
      for (const a of stmt.actions) if (a.kind === 'set' && a.option.value?.kind === 'secret') names.push(a.option.value.name);
      break;
    case 'show_objects':
      break;
  }
  return [...new Set(names.map((n) => n.parts[n.parts.length - 1]!.value))];
}

/** A unique violation from a concurrent node (shared store) is a duplicate name. */
function mapStoreError(err: unknown): never {
  if (!(err instanceof SqlError) && (err as { code?: string }).code === '23505') {
    throw new SqlError(SqlState.duplicateObject, 'an item with that name already exists');
  }
  throw err;
}
