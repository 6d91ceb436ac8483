/**
 * Runs one classified statement for a session: our DDL through planner and catalog, session
 * commands against the session, reads through the engine.
 */
import type { Catalog, ItemIds } from '../catalog/catalog.js';
import { PUBLIC_SCHEMA_ID, SYSTEM_ROLE_ID, type Authority, type AwsConnectionDef, type CatalogItem, type RoleRecord } from '../catalog/model.js';
import type { CatalogStore, ClientRead, ClientReadOptions, LiftedQuery, Queryable } from '../catalog/store.js';
import type { BindValues, Frame } from '../protocol-frames.js';
import { SqlError, SqlState } from '../errors.js';
import type { Logger } from '../log.js';
import { catalogViewOf, type AccessSlice } from '../plan/catalog-view.js';
import type { Notice, Plan, Planned } from '../plan/plan.js';
import { planStatement } from '../plan/planner.js';
import type { PendingChange, Session } from '../session/session.js';
import { settingSpec, SETTINGS } from '../session/settings.js';
import type { ObjectName, Statement } from '../sql/ast.js';
import { printStatement, quoteIdent, quoteLiteral } from '../sql/printer.js';
import { applyPlan, type Actor } from './apply-plan.js';
import type { Classified } from './classify.js';
import { gateStatement, type GatedStatement, type TransactionAction } from './query-gate.js';
import { externalIdFor } from '../aws/trust-policy.js';
import { bindParams } from './bind-params.js';
import { evaluateSecretExpression } from './secret-expression.js';
import { validateConnection, type ValidationContext } from './validation.js';

export type Outcome =
  | { readonly kind: 'command'; readonly tag: string; readonly notices: readonly Notice[]; readonly parameterStatus: readonly (readonly [string, string])[] }
  | { readonly kind: 'rows'; readonly columns: readonly string[]; readonly rows: readonly (readonly (string | null)[])[]; readonly tag: string }
  /** What the engine said for a read: RowDescription, DataRows, CommandComplete or ErrorResponse, notices. */
  | { readonly kind: 'engine'; readonly frames: readonly Frame[] };

/** How the client asked: a simple Query, or an extended-protocol portal with its Bind values. */
export type ReadHow = { readonly kind: 'simple' } | { readonly kind: 'portal'; readonly paramTypes: readonly number[]; readonly bind: BindValues };

export interface ExecutorDeps {
  readonly store: CatalogStore;
  readonly catalog: Catalog;
  readonly log: Logger;
  readonly principalConfigured: boolean;
  /** The largest answer one client read may have (54000 past it). */
  readonly maxResultBytes: number;
  /**
   * Catalog changes one transaction may hold (--max-transaction-changes). Each is planned again
   * at every later statement and at COMMIT (the engine is not held between statements), so the
   * work grows with their square.
   */
  readonly maxTransactionChanges: number;
  /** The engine's type oids: what a Parse may name for its parameters. */
  readonly typeOids: ReadonlySet<number>;
  readonly validation?: ValidationContext;
  /** VALIDATEs one role may have running at once on this node (--max-validations-per-role). */
  readonly maxValidationsPerRole: number;
}

const command = (tag: string, notices: readonly Notice[] = [], parameterStatus: (readonly [string, string])[] = []): Outcome => ({
  kind: 'command',
  tag,
  notices,
  parameterStatus,
});

/** Statements that change the catalog: inside a transaction they are staged until COMMIT. */
const CATALOG_WRITES: ReadonlySet<Statement['kind']> = new Set([
  'create_secret',
  'alter_secret',
  'create_connection',
  'alter_connection',
  'rename',
  'drop_objects',
  'comment',
  'create_role',
  'alter_role',
  'drop_roles',
  'role_membership',
  'privileges',
  'alter_owner',
  'alter_default_privileges',
  'owned',
  'comment_role',
]);

/** A staged change plans differently at COMMIT than when it was staged. */
const REPLANNED = 'the statement now means something else';

export class Executor {
  /** VALIDATEs running on this node, by role id. */
  private readonly validating = new Map<string, number>();

  constructor(private readonly deps: ExecutorDeps) {}

  /** Run one statement; `cancel` is the client's CancelRequest for it. */
  async execute(session: Session, c: Classified, how: ReadHow, cancel?: AbortSignal): Promise<Outcome> {
    if (cancel?.aborted) throw new SqlError(SqlState.queryCanceled, 'canceling statement due to user request');
    if (session.transactionStatus === 'E' && !(c.kind === 'gated' && c.gated.kind === 'transaction' && ['commit', 'rollback', 'rollback_to'].includes(c.gated.action))) {
      throw new SqlError(SqlState.inFailedSqlTransaction, 'current transaction is aborted, commands ignored until end of transaction block');
    }
    switch (c.kind) {
      case 'empty':
        return command('');
      case 'own': {
        const bound = bindParams(c.stmt, how.kind === 'portal' ? how.bind : undefined);
        return this.executeOwn(session, await this.evaluateSecretValue(session, bound, cancel), how, cancel);
      }
      case 'gated':
        return this.executeGated(session, c.gated, c.text, how, cancel);
    }
  }

  /** CREATE/ALTER SECRET ... AS <expression>: the statement with the expression's value in its place. */
  private async evaluateSecretValue(session: Session, stmt: Statement, cancel?: AbortSignal): Promise<Statement> {
    if ((stmt.kind !== 'create_secret' && stmt.kind !== 'alter_secret') || stmt.value.kind !== 'expression') return stmt;
    const { sql, pos } = stmt.value;
    const value = await evaluateSecretExpression(sql, pos, (text) => this.deps.store.execClientRead({ kind: 'query', text }, this.readOptions(session, cancel)));
    return { ...stmt, value: { kind: 'string', value, pos } };
  }

  /** A Parse's parameter types must exist (0: let the engine infer it). */
  checkParamTypes(types: readonly number[]): void {
    for (const oid of types) {
      if (oid !== 0 && !this.deps.typeOids.has(oid)) throw new SqlError(SqlState.undefinedObject, `type with OID ${oid >>> 0} does not exist`);
    }
  }

  /** ParameterDescription and RowDescription (or NoData) of a row-returning statement, from the engine. */
  async describe(session: Session, c: Classified, paramTypes: readonly number[]): Promise<Frame[]> {
    let text: string;
    if (c.kind === 'own') {
      const planned = await this.inView(session, (tx) => this.plan(tx, session, c.stmt));
      if (planned.plan.kind !== 'query') throw new Error(`${c.stmt.kind} does not read`);
      text = gatedQuerySql(planned.plan);
      paramTypes = [];
    } else if (c.kind === 'gated' && c.gated.kind === 'read') {
      text = c.gated.text;
    } else if (c.kind === 'gated') {
      text = c.text;
    } else {
      throw new Error('an empty statement does not read');
    }
    return this.deps.store.execClientRead({ kind: 'describe', text, paramTypes }, this.readOptions(session));
  }

  /**
   * The end of a multi-statement Query string: its implicit transaction commits if every
   * statement succeeded (and no BEGIN turned it into an explicit one), else it is discarded.
   */
  async endImplicitBlock(session: Session, succeeded: boolean): Promise<void> {
    if (!session.implicitBlock) return;
    session.implicitBlock = false;
    if (session.transactionStatus !== 'I') return;
    if (!succeeded) {
      session.pending = [];
      session.endIdentityScope(false);
      return;
    }
    try {
      await this.commit(session);
      session.endIdentityScope(true);
    } catch (err) {
      session.endIdentityScope(false);
      throw err;
    }
  }

  private readOptions(session: Session, cancel?: AbortSignal): ClientReadOptions {
    return {
      settings: session.engineSettings(),
      timeoutMs: session.statementTimeoutMs(),
      cancel,
      maxResultBytes: this.deps.maxResultBytes,
      pending: session.pending.length > 0 ? (tx) => this.replay(tx, session, session.pending) : undefined,
    };
  }

  /** A client read, as the client asked for it. */
  private async read(
    session: Session,
    text: string,
    how: ReadHow,
    cancel: AbortSignal | undefined,
    gated?: { readonly lifted?: LiftedQuery; readonly deterministic?: boolean },
    own = false,
  ): Promise<Outcome> {
    const repeatable = gated?.deterministic === true;
    const read: ClientRead =
      how.kind === 'simple'
        ? { kind: 'query', text, lifted: gated?.lifted, repeatable }
        : own
          ? { kind: 'portal', text, paramTypes: [], bind: { paramFormats: [], params: [], resultFormats: how.bind.resultFormats }, repeatable }
          : { kind: 'portal', text, paramTypes: how.paramTypes, bind: how.bind, repeatable };
    return { kind: 'engine', frames: await this.deps.store.execClientRead(read, this.readOptions(session, cancel)) };
  }

  /**
   * Run `fn` against the catalog as this session sees it: with its uncommitted changes applied
   * in the same engine transaction, which is then rolled back (`trial`: always rolled back).
   */
  private inView<T>(session: Session, fn: (tx: Queryable) => Promise<T>, trial = false): Promise<T> {
    const pending = session.pending;
    return this.deps.store.transaction(
      async (tx) => {
        await this.replay(tx, session, pending);
        return fn(tx);
      },
      { rollback: trial || pending.length > 0 },
    );
  }

  private async executeOwn(session: Session, stmt: Statement, how: ReadHow, cancel?: AbortSignal): Promise<Outcome> {
    if (CATALOG_WRITES.has(stmt.kind) && session.readOnly()) {
      throw new SqlError(SqlState.readOnlySqlTransaction, `cannot execute ${printStatement(stmt, { redacted: true }).split(' ').slice(0, 2).join(' ')} in a read-only transaction`);
    }
    if (session.inTransaction && CATALOG_WRITES.has(stmt.kind)) return this.stage(session, stmt, cancel);
    const { catalog } = this.deps;
    const run = async (tx: Queryable): Promise<{ planned: Planned; validateAs?: string; ids?: ItemIds }> => {
      const p = await this.plan(tx, session, stmt);
      // WITH (VALIDATE = true): validate first, with the id the connection will have, and
      // commit only if that succeeds. No engine transaction stays open during the remote calls.
      if (p.plan.kind === 'create_connection' && p.plan.validate) {
        const ids = await catalog.allocateIds(tx);
        return { planned: p, validateAs: ids.id, ids };
      }
      if (p.plan.kind === 'alter_connection' && p.plan.validate) return { planned: p, validateAs: p.plan.id };
      await applyPlan(catalog, tx, p.plan, actorOf(session));
      return { planned: p };
    };
    const first = await this.inView(session, run).catch(mapStoreError);
    const { planned, validateAs, ids } = first;
    const plan = planned.plan;
    switch (plan.kind) {
      case 'create_connection':
      case 'alter_connection':
        if (validateAs !== undefined) {
          await this.validate(session, validateAs, plan.connection.definition, cancel, plan.kind === 'create_connection' ? plan.name : undefined);
          await this.commitValidated(session, stmt, plan.connection.definition, ids);
        }
        return command(planned.tag, planned.notices);
      case 'query':
        return this.read(session, gatedQuerySql(plan), how, cancel, undefined, true);
      case 'validate_connection':
        await this.validate(session, plan.id, plan.definition, cancel);
        return command(planned.tag, planned.notices);
      default:
        return command(planned.tag, planned.notices);
    }
  }

  /**
   * A catalog change inside a transaction: planned now against the catalog plus the session's
   * earlier changes, and tried (applied, then rolled back) so that its errors come at this
   * statement; kept in the session until COMMIT applies them all at once.
   */
  private async stage(session: Session, stmt: Statement, cancel?: AbortSignal): Promise<Outcome> {
    const { catalog } = this.deps;
    if (session.pending.length >= this.deps.maxTransactionChanges) {
      throw new SqlError(SqlState.programLimitExceeded, `a transaction may hold at most ${this.deps.maxTransactionChanges} catalog changes`, {
        hint: 'COMMIT in smaller batches.',
      });
    }
    // Ids for a CREATE are allocated, and recorded as issued, in a transaction of their own: the
    // trial below is rolled back, yet reads in this transaction will show them.
    const creates = stmt.kind === 'create_secret' || stmt.kind === 'create_connection';
    const allocated = creates ? await this.deps.store.transaction((tx) => catalog.allocateIds(tx)) : undefined;
    const { planned, ids } = await this.inView(session, async (tx) => {
      const p = await this.plan(tx, session, stmt);
      const ids = p.plan.kind === 'create_secret' || p.plan.kind === 'create_connection' ? allocated : undefined;
      await applyPlan(catalog, tx, p.plan, actorOf(session), ids);
      return { planned: p, ids };
    }, true).catch(mapStoreError);
    const plan = planned.plan;
    if ((plan.kind === 'create_connection' || plan.kind === 'alter_connection') && plan.validate) {
      const creating = plan.kind === 'create_connection' ? plan.name : undefined;
      await this.validate(session, plan.kind === 'create_connection' ? ids!.id : plan.id, plan.connection.definition, cancel, creating);
    }
    session.pending = [...session.pending, { stmt, ids, plan: JSON.stringify(plan), searchPath: session.searchPath(), roleId: session.roleId }];
    return command(planned.tag, planned.notices);
  }

  /** Apply a transaction's changes in one engine transaction. */
  private async commit(session: Session): Promise<void> {
    const pending = session.pending;
    session.pending = [];
    if (pending.length === 0) return;
    await this.deps.store.transaction((tx) => this.replay(tx, session, pending));
  }

  /**
   * Plan and apply `changes` again inside `tx`, with the ids they were given. A change that no
   * longer plans the same (a concurrent commit took its name, dropped what it uses, ...) fails
   * the whole transaction with 40001: nothing of it is applied.
   */
  private async replay(tx: Queryable, session: Session, changes: readonly PendingChange[]): Promise<void> {
    for (const change of changes) {
      try {
        const again = await this.plan(tx, session, change.stmt, change.searchPath, change.roleId);
        if (JSON.stringify(again.plan) !== change.plan) throw new Error(REPLANNED);
        await applyPlan(this.deps.catalog, tx, again.plan, { roleId: change.roleId, user: session.user }, change.ids);
      } catch (err) {
        // The engine's own failures (its serialization failure, a lost connection) are the store's
        // to retry or report; only a change that plans differently now is this transaction's conflict.
        if (!(err instanceof SqlError) && !(err instanceof Error && err.message === REPLANNED)) throw err;
        throw new SqlError(SqlState.serializationFailure, 'could not serialize access due to concurrent update', {
          detail: `Another session changed the catalog since this transaction's ${printStatement(change.stmt, { redacted: true }).split(' (')[0]}${err instanceof SqlError ? `: ${err.message}` : ''}.`,
          hint: 'Run the transaction again.',
        });
      }
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
        await applyPlan(this.deps.catalog, tx, again.plan, actorOf(session), ids);
      })
      .catch(mapStoreError);
  }

  /**
   * A validation's outcome in the audit trail, committed on its own: it happened, whatever
   * becomes of the statement (a failed CREATE ... WITH (VALIDATE = true) creates nothing). A
   * trail that cannot be written is logged, not the validation's answer.
   */
  private async recordValidation(session: Session, id: string, creating: string | undefined, outcome: Parameters<Catalog['recordValidation']>[4]): Promise<void> {
    await this.deps.store
      .transaction((tx) => this.deps.catalog.recordValidation(tx, id, creating, session.user, outcome))
      .catch((err: unknown) => this.deps.log.error({ err, id }, 'could not record a validation in the audit trail'));
  }

  /**
   * Plan `stmt` against the catalog in `tx` as role `roleId` (the session's current role by
   * default), resolving names with `searchPath` (the session's now by default).
   */
  private async plan(tx: Queryable, session: Session, stmt: Statement, searchPath: readonly string[] = session.searchPath(), roleId = session.roleId): Promise<Planned> {
    const { catalog } = this.deps;
    const { items, actor, schemaAcl } = await catalog.loadForPlanning(tx, namesIn(stmt), roleId);
    if (!actor) throw roleGone(session);
    const access = { schemaPrivileges: new Map([[PUBLIC_SCHEMA_ID, schemaAcl]]), ...(await loadAccess(catalog, tx, stmt)) };
    return planStatement(stmt, catalogViewOf([...items, ...(await itemsBeyondNames(catalog, tx, stmt))], access), {
      searchPath: [...searchPath],
      principalConfigured: this.deps.principalConfigured,
      actor,
      sessionRoleId: session.sessionUser.id,
    });
  }

  /**
   * Validate `definition` as connection `id`. `creating` names a connection that a failure
   * leaves uncreated: its id, and the external id that goes with it, will never be used, so no
   * failure may tell the user to install a trust policy for it (the trap of CREATE ... WITH
   * (VALIDATE = true) for an assume-role connection).
   */
  private async validate(session: Session, id: string, definition: AwsConnectionDef, cancel?: AbortSignal, creating?: string): Promise<void> {
    const { validation } = this.deps;
    if (!validation) throw new SqlError(SqlState.featureNotSupported, 'connection validation is not configured on this server');
    const role = session.roleId;
    const running = this.validating.get(role) ?? 0;
    if (running >= this.deps.maxValidationsPerRole) {
      throw new SqlError(SqlState.configurationLimitExceeded, `too many concurrent validations for role "${session.currentRole.name}"`, {
        detail: `A role may run ${this.deps.maxValidationsPerRole} VALIDATEs at once (--max-validations-per-role); each holds calls to AWS STS.`,
        hint: 'Wait for one to finish, then run it again.',
      });
    }
    this.validating.set(role, running + 1);
    try {
      await this.validateCounted(validation, session, id, definition, cancel, creating);
    } finally {
      const left = (this.validating.get(role) ?? 1) - 1;
      if (left > 0) this.validating.set(role, left);
      else this.validating.delete(role);
    }
  }

  private async validateCounted(validation: ValidationContext, session: Session, id: string, definition: AwsConnectionDef, cancel?: AbortSignal, creating?: string): Promise<void> {
    const { catalog, log } = this.deps;
    try {
      await validateConnection(validation, (fn) => this.inView(session, fn), catalog, log, id, definition, cancel);
      await this.recordValidation(session, id, creating, { ok: true });
    } catch (err) {
      if (err instanceof SqlError && err.code !== SqlState.queryCanceled) {
        await this.recordValidation(session, id, creating, { ok: false, code: err.code, message: err.message, detail: err.detail });
      }
      if (creating === undefined || definition.assume_role_arn === undefined || !(err instanceof SqlError)) throw err;
      const discarded = externalIdFor(validation.externalIdPrefix, id);
      const name = quoteIdent(creating);
      const proceed =
        `The connection was not created, and the external ID it would have had will never be used. Create it without VALIDATE, ` +
        `install the trust policy from SELECT example_trust_policy FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name = ${quoteLiteral(creating)}, ` +
        `then run VALIDATE CONNECTION ${name}.`;
      const keep = err.hint !== undefined && !err.hint.includes(discarded) ? `${err.hint}\n` : '';
      throw new SqlError(err.code, err.message, {
        detail: err.detail?.split(discarded).join('<the external ID of the connection being created>'),
        hint: keep + proceed,
        position: err.position,
      });
    }
  }

  private async executeGated(session: Session, g: GatedStatement, text: string, how: ReadHow, cancel?: AbortSignal): Promise<Outcome> {
    switch (g.kind) {
      case 'read':
        return this.read(session, g.text, how, cancel, g);
      case 'show': {
        const spec = SETTINGS[g.name];
        if (!spec) return this.read(session, text, how, cancel);
        return { kind: 'rows', columns: [g.name], rows: [[session.get(g.name)]], tag: 'SHOW' };
      }
      case 'set': {
        if (g.name === 'transaction' || g.name === 'session characteristics') return command('SET');
        if (g.name === 'role') return this.setRole(session, g.value);
        if (g.name === 'session_authorization') return this.setSessionAuthorization(session, g.value);
        if (g.name === 'transaction_read_only') {
          // The open transaction's mode, not a session setting (PostgreSQL: a warning outside one).
          if (session.transactionStatus === 'I') {
            return command(g.value === undefined ? 'RESET' : 'SET', [{ code: SqlState.noActiveSqlTransaction, message: 'SET TRANSACTION can only be used in transaction blocks', severity: 'WARNING' }]);
          }
          session.transactionReadOnly = g.value === undefined ? undefined : settingSpec(g.name).check!(g.value) === 'on';
          return command(g.value === undefined ? 'RESET' : 'SET');
        }
        const value = g.name === 'search_path' && g.value !== undefined ? g.args.map((a) => quoteIdent(a.value)).join(', ') : g.value;
        const spec = settingSpec(g.name);
        if (spec.engine && value !== undefined) await this.checkEngineSetting(g.name, value);
        const reported = session.set(g.name, value);
        return command(value === undefined ? 'RESET' : 'SET', [], reported ? [[reported, session.get(g.name)]] : []);
      }
      case 'reset_all':
        return command('RESET', [], session.resetAll().map((d) => [d, session.get(d)] as const));
      case 'discard_all':
        session.setSessionUser(undefined);
        session.resetAll();
        return command('DISCARD ALL');
      case 'deallocate':
        // The wire layer owns prepared statements; it handles the tag's side effect.
        return command('DEALLOCATE');
      case 'transaction':
        return this.transaction(session, g.action, g.readOnly);
    }
  }

  /**
   * SET ROLE r: to a role the session user is a member of (any role, for a superuser); SET ROLE
   * NONE and RESET ROLE: back to the session user. As in PostgreSQL.
   */
  private async setRole(session: Session, name: string | undefined): Promise<Outcome> {
    const reported = (): Outcome => command(name === undefined ? 'RESET' : 'SET', [], [['is_superuser', session.get('is_superuser')]]);
    if (name === undefined || name === 'none') {
      session.setRole(undefined);
      return reported();
    }
    const { role, authority: sessionUser } = await this.roleAndAuthority(name, session.sessionUser.id);
    if (!role) throw new SqlError(SqlState.undefinedObject, `role "${name}" does not exist`);
    if (role.id === SYSTEM_ROLE_ID) throw new SqlError(SqlState.insufficientPrivilege, `permission denied to set role "${name}"`, { detail: 'mz_system is the system\'s own role.' });
    if (!sessionUser) throw roleGone(session);
    const member = sessionUser.memberOf.has(role.id);
    if (!member && !sessionUser.role.superuser) throw new SqlError(SqlState.insufficientPrivilege, `permission denied to set role "${name}"`, {
      detail: `The session user "${session.user}" is not a member of role "${name}".`,
    });
    session.setRole({ id: role.id, name: role.name, superuser: role.superuser }, member);
    return reported();
  }

  /** SET SESSION AUTHORIZATION r: only for a login that is a superuser; DEFAULT and RESET: back to the login. */
  private async setSessionAuthorization(session: Session, name: string | undefined): Promise<Outcome> {
    const reported = (): Outcome =>
      command(name === undefined ? 'RESET' : 'SET', [], [
        ['session_authorization', session.user],
        ['is_superuser', session.get('is_superuser')],
      ]);
    if (name === undefined || name === 'default') {
      session.setSessionUser(undefined);
      return reported();
    }
    const { role, authority: login } = await this.roleAndAuthority(name, session.login.id);
    if (!login?.role.superuser && role?.id !== session.login.id) throw new SqlError(SqlState.insufficientPrivilege, 'permission denied to set session authorization');
    if (!role) throw new SqlError(SqlState.undefinedObject, `role "${name}" does not exist`);
    if (role.id === SYSTEM_ROLE_ID) throw new SqlError(SqlState.insufficientPrivilege, 'permission denied to set session authorization', { detail: 'mz_system is the system\'s own role.' });
    session.setSessionUser({ id: role.id, name: role.name, superuser: role.superuser });
    return reported();
  }

  /** The role named (if any), and the authority of role `asId` (who wants to become it). */
  private roleAndAuthority(name: string, asId: string): Promise<{ role: RoleRecord | undefined; authority: Authority | undefined }> {
    const { roles } = this.deps.catalog;
    return this.deps.store.transaction(async (tx) => ({ role: await roles.byName(tx, name), authority: await roles.authority(tx, asId) }), { rollback: true });
  }

  /** Try a setting in the engine so that a bad value fails now, not on every later query. */
  private async checkEngineSetting(name: string, value: string): Promise<void> {
    try {
      // Parameters, never SQL text: the value is the client's (and as text it would be only as safe
      // as the catalog server's standard_conforming_strings).
      await this.deps.store.transaction((tx) => tx.query('SELECT pg_catalog.set_config($1, $2, true)', [name, value]), { rollback: true });
    } catch (err) {
      throw new SqlError(SqlState.invalidParameterValue, `invalid value for parameter "${name}"`, { detail: (err as Error).message });
    }
  }

  private async transaction(session: Session, action: TransactionAction, readOnly?: boolean): Promise<Outcome> {
    const status = session.transactionStatus;
    switch (action) {
      case 'begin':
        if (status !== 'I') return command('BEGIN', [{ code: SqlState.activeSqlTransaction, message: 'there is already a transaction in progress', severity: 'WARNING' }]);
        session.transactionStatus = 'T';
        session.transactionReadOnly = readOnly;
        session.beginIdentityScope();
        return command('BEGIN');
      case 'commit':
      case 'rollback': {
        const open = status !== 'I' || session.implicitBlock;
        session.transactionStatus = 'I';
        session.transactionReadOnly = undefined;
        const committing = action === 'commit' && status !== 'E';
        try {
          if (committing) await this.commit(session).catch(mapStoreError);
          else session.pending = [];
          session.endIdentityScope(committing);
        } catch (err) {
          session.endIdentityScope(false);
          throw err;
        }
        const notices: Notice[] = open ? [] : [{ code: SqlState.invalidTransactionState, message: 'there is no transaction in progress', severity: 'WARNING' }];
        return command(action === 'commit' && status !== 'E' ? 'COMMIT' : 'ROLLBACK', notices);
      }
      case 'savepoint':
      case 'release':
      case 'rollback_to':
        if (status === 'I') {
          throw new SqlError(SqlState.invalidTransactionState, `${action === 'savepoint' ? 'SAVEPOINT' : action === 'release' ? 'RELEASE SAVEPOINT' : 'ROLLBACK TO SAVEPOINT'} can only be used in transaction blocks`);
        }
        if (session.pending.length > 0) {
          throw new SqlError(SqlState.featureNotSupported, 'savepoints are not supported in a transaction that changes the catalog', {
            hint: 'COMMIT or ROLLBACK the whole transaction.',
          });
        }
        if (action === 'rollback_to') session.transactionStatus = 'T';
        return command(action === 'savepoint' ? 'SAVEPOINT' : action === 'release' ? 'RELEASE' : 'ROLLBACK');
    }
  }

}

/**
 * The SQL of one of our reads. A user's SHOW ... WHERE expression in it passes the read-only gate
 * first, like any client query (only reads, only allowed functions); a gate error points into
 * the expression as the user wrote it.
 */
function gatedQuerySql(plan: Extract<Plan, { kind: 'query' }>): string {
  if (!plan.filter) return plan.sql;
  const { offset, length, pos } = plan.filter;
  try {
    const gated = gateStatement(plan.sql);
    if (gated.kind !== 'read') throw new SqlError(SqlState.syntaxError, 'a WHERE expression must be an expression');
    return gated.text;
  } catch (err) {
    if (!(err instanceof SqlError)) throw err;
    const at = err.position;
    const position = at !== undefined && at >= offset && at <= offset + length ? pos + (at - offset) : pos;
    throw new SqlError(err.code, err.message, { detail: err.detail, hint: err.hint, position });
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
    case 'comment':
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
    case 'alter_owner':
      names.push(stmt.name);
      break;
    case 'privileges':
      if (stmt.target.kind === 'objects') names.push(...stmt.target.names);
      break;
    case 'show_objects':
    case 'create_role':
    case 'alter_role':
    case 'drop_roles':
    case 'role_membership':
    case 'alter_default_privileges':
    case 'owned':
    case 'comment_role':
      break;
  }
  return [...new Set(names.map((n) => n.parts[n.parts.length - 1]!.value))];
}

/** The session as the author of its catalog changes: its current role, and its session user for the audit trail. */
function actorOf(session: Session): Actor {
  return { roleId: session.roleId, user: session.user };
}

/** The session's role was dropped (by another session) while it lasted. */
function roleGone(session: Session): SqlError {
  return new SqlError(SqlState.invalidAuthorizationSpecification, `role "${session.currentRole.name}" does not exist`, {
    detail: 'The role was dropped while this session used it.',
    hint: 'SET ROLE to another role, or log in again as one that exists.',
  });
}

/** What a statement about roles or privileges needs loaded besides its items (plan/catalog-view.ts). */
async function loadAccess(catalog: Catalog, tx: Queryable, stmt: Statement): Promise<AccessSlice> {
  switch (stmt.kind) {
    case 'create_role':
    case 'alter_role':
    case 'role_membership':
    case 'alter_default_privileges':
      return { roles: await catalog.roles.all(tx), memberships: await catalog.roles.memberships(tx) };
    case 'drop_roles': {
      const roles = await catalog.roles.all(tx);
      const named = new Set(stmt.names.map((n) => n.value));
      const roleDependencies = new Map<string, string[]>();
      for (const role of roles.filter((r) => named.has(r.name))) roleDependencies.set(role.id, await catalog.roles.dependencies(tx, role));
      return { roles, roleDependencies };
    }
    case 'alter_owner':
    case 'owned':
    case 'comment_role':
      return { roles: await catalog.roles.all(tx) };
    case 'privileges':
      return { roles: await catalog.roles.all(tx) };
    default:
      return {};
  }
}

/** Items a statement reaches other than by name: what roles own (REASSIGN/DROP OWNED), all of a kind (GRANT ... ON ALL). */
async function itemsBeyondNames(catalog: Catalog, tx: Queryable, stmt: Statement): Promise<CatalogItem[]> {
  if (stmt.kind === 'owned') return catalog.itemsOwnedBy(tx, stmt.roles.map((r) => r.value));
  if (stmt.kind === 'privileges' && stmt.target.kind === 'all_in_schema') {
    return catalog.itemsInSchema(tx, PUBLIC_SCHEMA_ID, stmt.target.objectType === 'CONNECTIONS' ? 'connection' : 'secret');
  }
  return [];
}

function mapStoreError(err: unknown): never {
  if (!(err instanceof SqlError) && (err as { code?: string }).code === '23505') {
    throw new SqlError(SqlState.duplicateObject, 'an item with that name already exists');
  }
  throw err;
}
