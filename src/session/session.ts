/**
 * One client's session: who it is, its settings, its transaction status, and its prepared
 * statements and portals. Nothing here touches the engine.
 */
import { SqlError, SqlState } from '../errors.js';
import type { Statement } from '../sql/ast.js';
import { PreparedStatements } from './prepared-statements.js';
import { formatDuration, parseSearchPath, settingSpec, SETTINGS } from './settings.js';

/** ReadyForQuery status: idle, in a transaction block, in a failed transaction block. */
export type TransactionStatus = 'I' | 'T' | 'E';

/**
 * Schemas searched after the user's own path, the way Materialize resolves mz_catalog; pg_catalog
 * named last, so that mz_catalog's stand-ins for tools (pg_roles) come before the engine's own.
 */
const IMPLICIT_SCHEMAS = ['mz_catalog', 'mz_internal', 'pg_catalog'];

/**
 * A catalog change made inside a transaction (explicit, or a multi-statement Query string) and
 * not yet committed: the statement as the user wrote it, the ids it was given when first
 * planned (so that reads inside the transaction show the ids COMMIT will keep), and its plan
 * then, to tell at COMMIT whether a concurrent change altered what it means.
 */
export interface PendingChange {
  readonly stmt: Statement;
  readonly ids: { readonly id: string; readonly oid: number } | undefined;
  readonly plan: string;
  /** The search_path it was planned with: a later SET in the transaction does not change its meaning. */
  readonly searchPath: readonly string[];
  /** The role it was planned as: a later SET ROLE in the transaction does not change who made it. */
  readonly roleId: string;
}

/** A role by id and name, and whether it is a superuser (is_superuser). */
export interface RoleRef {
  readonly id: string;
  readonly name: string;
  readonly superuser: boolean;
}

/** The engine state for this client's reads; structurally the store's EngineSettings (catalog/store.ts). */
export interface EngineSettings {
  /** The engine role the read runs as: the session's current role. */
  readonly role: string;
  /** The session user, when the engine should show it as session_user under `role` (a member of it). */
  readonly sessionRole?: string;
  /** Settings applied for the read, in order. */
  readonly values: readonly (readonly [string, string])[];
  /** The whole of it as one string: equal keys, equal state. */
  readonly key: string;
}

export class Session {
  transactionStatus: TransactionStatus = 'I';
  private implicit = false;
  /** Who the session was when its transaction began: SET ROLE and SET SESSION AUTHORIZATION are undone with it. */
  private identityAtBegin: { readonly sessionUser: RoleRef; readonly role: Session['roleRef'] } | undefined;
  /** Catalog changes of the open (explicit or implicit) transaction, in order. */
  pending: PendingChange[] = [];
  /** BEGIN READ ONLY / READ WRITE or SET TRANSACTION for the open transaction; undefined: the default. */
  transactionReadOnly: boolean | undefined;
  /** Its prepared statements and portals; what each was classified as is the executor's (pgwire fills them in). */
  readonly statements = new PreparedStatements();
  private readonly values = new Map<string, string>();
  private settingsCache: EngineSettings | undefined;
  /** SET SESSION AUTHORIZATION's role (the login's unless a superuser login changed it). */
  private sessionUserRef: RoleRef;
  /** SET ROLE's role; undefined: the session user. */
  private roleRef: { readonly role: RoleRef; readonly sessionUserIsMember: boolean } | undefined;

  constructor(
    readonly id: number,
    /** The role that authenticated: whether SET SESSION AUTHORIZATION is allowed is its attribute. */
    readonly login: RoleRef,
    readonly database: string,
    /** The server's maximum (--statement-timeout-ms): the default, and the cap of what a session may set. */
    private readonly maxStatementTimeoutMs: number,
  ) {
    this.sessionUserRef = login;
  }

  /** The session user's name (session_user; the audit trail's user). */
  get user(): string {
    return this.sessionUserRef.name;
  }

  get sessionUser(): RoleRef {
    return this.sessionUserRef;
  }

  /** The current role (current_user): who acts, owns what it creates, and is checked for privileges. */
  get currentRole(): RoleRef {
    return this.roleRef?.role ?? this.sessionUserRef;
  }

  /** Its current role's id. */
  get roleId(): string {
    return this.currentRole.id;
  }

  /** SET ROLE (undefined: NONE). `sessionUserIsMember`: the engine may show the session user as session_user. */
  setRole(role: RoleRef | undefined, sessionUserIsMember = false): void {
    this.roleRef = role === undefined || role.id === this.sessionUserRef.id ? undefined : { role, sessionUserIsMember };
    this.settingsCache = undefined;
  }

  /** SET SESSION AUTHORIZATION (undefined: the login's); resets the current role as PostgreSQL does. */
  setSessionUser(role: RoleRef | undefined): void {
    this.sessionUserRef = role ?? this.login;
    this.roleRef = undefined;
    this.settingsCache = undefined;
  }
  /** Inside a multi-statement Query string outside BEGIN: an implicit transaction (ReadyForQuery still says idle). */
  get implicitBlock(): boolean {
    return this.implicit;
  }

  set implicitBlock(open: boolean) {
    if (open) this.beginIdentityScope();
    this.implicit = open;
  }

  /** A transaction begins: remember who the session is (once, for the outermost). */
  beginIdentityScope(): void {
    this.identityAtBegin ??= { sessionUser: this.sessionUserRef, role: this.roleRef };
  }

  /** The transaction ends: a rolled-back (or failed) one undoes its SET ROLE and SET SESSION AUTHORIZATION, as in PostgreSQL. */
  endIdentityScope(committed: boolean): void {
    const before = this.identityAtBegin;
    this.identityAtBegin = undefined;
    if (committed || before === undefined) return;
    this.sessionUserRef = before.sessionUser;
    this.roleRef = before.role;
    this.settingsCache = undefined;
  }

  /** Whether a transaction (explicit, or a multi-statement string's implicit one) is open. */
  get inTransaction(): boolean {
    return this.transactionStatus !== 'I' || this.implicitBlock;
  }

  /** Whether catalog changes are refused now: the transaction's READ ONLY, else the session's default. */
  readOnly(): boolean {
    const fallback = this.get('default_transaction_read_only') === 'on';
    return this.transactionStatus !== 'I' ? (this.transactionReadOnly ?? fallback) : fallback;
  }

  /** How long this session's statements may run: its own statement_timeout, at most the server's. */
  statementTimeoutMs(): number {
    const own = Number(this.values.get('statement_timeout') ?? 0);
    return own > 0 && own < this.maxStatementTimeoutMs ? own : this.maxStatementTimeoutMs;
  }

  get(name: string): string {
    const key = name.toLowerCase();
    if (key === 'session_authorization') return this.user;
    if (key === 'role') return this.roleRef?.role.name ?? 'none';
    if (key === 'is_superuser') return this.currentRole.superuser ? 'on' : 'off';
    if (key === 'statement_timeout') return formatDuration(this.statementTimeoutMs());
    if (key === 'transaction_read_only') return this.readOnly() ? 'on' : 'off';
    return this.values.get(key) ?? settingSpec(key).default;
  }

  /** Set (or with `undefined`, reset) a setting; returns the display name if it is reported. */
  set(name: string, value: string | undefined): string | undefined {
    const key = name.toLowerCase();
    const spec = settingSpec(key);
    if (spec.readOnly) throw new SqlError(SqlState.insufficientPrivilege, `parameter "${key}" cannot be changed`);
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, spec.check ? spec.check(value) : value);
    this.settingsCache = undefined;
    return spec.reported ? spec.display : undefined;
  }

  resetAll(): string[] {
    const reported = [...this.values.keys()].filter((k) => SETTINGS[k]?.reported).map((k) => SETTINGS[k]!.display);
    this.values.clear();
    this.settingsCache = undefined;
    return reported;
  }

  searchPath(): string[] {
    return parseSearchPath(this.get('search_path'));
  }

  /**
   * The engine state a read of this client runs in: read-only, its settings, and its own role
   * (an engine role that can read the system views and pg_catalog, nothing in
   * iamlink_internal). Each store applies it in its own way (catalog/store.ts).
   */
  engineSettings(): EngineSettings {
    if (this.settingsCache !== undefined) return this.settingsCache;
    // The user's path first, so current_schema() is theirs (public), as in Materialize; the
    // system schemas after it still resolve unqualified names (nothing else can hold them).
    const own = this.searchPath();
    const path = [...own, ...IMPLICIT_SCHEMAS.filter((s) => !own.includes(s))];
    const values: [string, string][] = [
      ['default_transaction_read_only', 'on'],
      ['search_path', path.map((s) => `"${s.replace(/"/g, '""')}"`).join(', ')],
      ['statement_timeout', String(this.statementTimeoutMs())],
      // Whose privileges the read has: the system views show what this role may use (migrations/0007).
      ['iamlink.role_id', this.currentRole.id],
    ];
    for (const [key, value] of this.values) {
      if (SETTINGS[key]?.engine) values.push([key, value]);
    }
    const role = this.currentRole.name;
    const sessionRole = this.roleRef?.sessionUserIsMember ? this.user : undefined;
    this.settingsCache = { role, sessionRole, values, key: JSON.stringify([role, sessionRole, values]) };
    return this.settingsCache;
  }
}
