/**
 * Recursive-descent parser for iamlink's own statements (docs/design.md §2). It is purely syntactic:
 * it records options with their positions and leaves legality to the planner.
 */
import { SqlError, SqlState } from '../errors.js';
import {
  CONNECTION_OPTION_NAMES,
  type AlterConnectionAction,
  type ConnectionOption,
  type ConnectionOptionName,
  type Grantee,
  type Ident,
  type PrivilegeList,
  type PrivilegeTarget,
  type RoleAttribute,
  type ObjectName,
  type ObjectType,
  type OptionValue,
  type ShowFilter,
  type Statement,
  type WithOption,
} from './ast.js';
import { describeToken, tokenize, type Token } from './lexer.js';

const MAX_IDENT_LENGTH = 255;


/** Connection types of more than one word, after their first (Materialize's grammar). */
const MULTI_WORD_CONNECTION_TYPES: Record<string, readonly string[]> = {
  aws: ['privatelink'],
  confluent: ['schema', 'registry'],
  ssh: ['tunnel'],
  sql: ['server'],
};
/** Options that older Materialize versions accepted and that we reject with a pointer. */
/** Role attributes CREATE/ALTER ROLE parse (each also as NO...); the planner decides which it takes. */
const ROLE_FLAGS = ['login', 'superuser', 'createrole', 'inherit', 'createdb', 'createcluster', 'replication', 'bypassrls'];

/** Object types of GRANT ... ON type name (TABLE when none is written). */
const GRANT_OBJECT_TYPES = ['secret', 'connection', 'schema', 'database', 'table', 'cluster', 'type'] as const;

/** Object types of GRANT ... ON ALL types IN SCHEMA and ALTER DEFAULT PRIVILEGES ... ON types. */
const GRANT_PLURAL_TYPES = ['secrets', 'connections', 'tables', 'types', 'clusters', 'schemas', 'databases', 'views', 'sources'];

const RETIRED_OPTIONS: Record<string, string> = {
  'role arn': 'ROLE ARN is no longer supported: use ASSUME ROLE ARN',
  token: 'TOKEN is no longer supported: use SESSION TOKEN',
};

/**
 * Whether a statement's leading words make it one of ours. Anything else goes to the
 * read-only query gate.
 */
export function isOwnStatement(tokens: readonly Token[]): boolean {
  const w = (i: number): string => (tokens[i]?.kind === 'word' ? tokens[i]!.value : '');
  switch (w(0)) {
    case 'create':
      return ['secret', 'connection', 'role', 'user'].includes(w(1));
    case 'drop':
      return ['secret', 'connection', 'role', 'user', 'owned'].includes(w(1));
    case 'reassign':
      return w(1) === 'owned';
    case 'alter':
      return ['secret', 'connection', 'role', 'user'].includes(w(1)) || (w(1) === 'default' && w(2) === 'privileges');
    case 'grant':
    case 'revoke':
    case 'validate':
      return true;
    case 'show':
      return ['connections', 'secrets', 'roles', 'create', 'redacted'].includes(w(1));
    case 'comment':
      // Only ours; COMMENT ON anything else goes to the gate, which refuses it as a write.
      return w(1) === 'on' && (w(2) === 'connection' || w(2) === 'secret' || w(2) === 'role');
    default:
      return false;
  }
}

/** Parse one statement (without its trailing semicolon). Throws a 42601 SqlError. */
export function parseStatement(text: string, tokens: readonly Token[] = tokenize(text)): Statement {
  return new Parser(tokens, text).parseStatement();
}

class Parser {
  private i = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly text: string,
  ) {}

  /** statement: create | alter | drop | reassign | grant | revoke | validate | show | comment */
  parseStatement(): Statement {
    const stmt = this.parseStatementBody();
    if (this.peek().kind !== 'eof') throw this.expected('end of statement');
    return stmt;
  }

  private parseStatementBody(): Statement {
    const word = this.expectOneOf(['create', 'alter', 'drop', 'reassign', 'grant', 'revoke', 'validate', 'show', 'comment']);
    switch (word) {
      case 'create': {
        const what = this.expectOneOf(['secret', 'connection', 'role', 'user']);
        if (what === 'role' || what === 'user') return this.parseCreateRole(what === 'user');
        return what === 'secret' ? this.parseCreateSecret() : this.parseCreateConnection();
      }
      case 'alter': {
        const what = this.expectOneOf(['secret', 'connection', 'role', 'user', 'default']);
        if (what === 'role' || what === 'user') return this.parseAlterRole();
        if (what === 'default') return this.parseAlterDefaultPrivileges();
        return what === 'secret' ? this.parseAlterSecret() : this.parseAlterConnection();
      }
      case 'reassign':
        this.expectWord('owned');
        return this.parseOwned('reassign');
      case 'drop': {
        const what = this.expectOneOf(['secret', 'connection', 'role', 'user', 'owned']);
        if (what === 'owned') return this.parseOwned('drop');
        if (what === 'role' || what === 'user') return this.parseDropRoles();
        return this.parseDrop(what === 'secret' ? 'SECRET' : 'CONNECTION');
      }
      case 'grant':
      case 'revoke':
        return this.parseGrant(word === 'grant');
      case 'validate':
        this.expectWord('connection');
        return { kind: 'validate_connection', name: this.parseObjectName() };
      case 'comment':
        return this.parseComment();
      default:
        return this.parseShow();
    }
  }

  /** CREATE SECRET [IF NOT EXISTS] name {AS | =} value */
  private parseCreateSecret(): Statement {
    const ifNotExists = this.parseIfNotExists();
    const name = this.parseObjectName();
    if (!this.eatWord('as') && !this.eatOp('=')) throw this.expected('AS');
    return { kind: 'create_secret', ifNotExists, name, value: this.parseSecretValue() };
  }

  /** ALTER SECRET [IF EXISTS] name {AS value | RENAME TO new | OWNER TO role} */
  private parseAlterSecret(): Statement {
    const ifExists = this.parseIfExists();
    const name = this.parseObjectName();
    if (this.eatWord('rename')) return this.parseRenameTail('SECRET', ifExists, name);
    if (this.eatWord('owner')) return this.parseOwnerTail('SECRET', ifExists, name);
    if (!this.eatWord('as') && !this.eatOp('=')) throw this.expected('AS or RENAME');
    return { kind: 'alter_secret', ifExists, name, value: this.parseSecretValue() };
  }

  /** RENAME TO ident (after RENAME) */
  private parseRenameTail(objectType: ObjectType, ifExists: boolean, name: ObjectName): Statement {
    this.expectWord('to');
    return { kind: 'rename', objectType, ifExists, name, newName: this.parseIdent() };
  }

  /** OWNER TO role (after OWNER) */
  private parseOwnerTail(objectType: ObjectType, ifExists: boolean, name: ObjectName): Statement {
    this.expectWord('to');
    return { kind: 'alter_owner', objectType, ifExists, name, owner: this.parseIdent() };
  }

  /** CREATE {ROLE | USER} name [[WITH] attribute ...] (USER: LOGIN unless NOLOGIN is written) */
  private parseCreateRole(user: boolean): Statement {
    const name = this.parseIdent();
    return { kind: 'create_role', name, attributes: this.parseRoleAttributes(false), user };
  }

  /** ALTER {ROLE | USER} name [WITH] attribute ... */
  private parseAlterRole(): Statement {
    const name = this.parseIdent();
    const t = this.peek();
    if (t.kind === 'word' && ['set', 'reset', 'rename'].includes(t.value)) {
      throw new SqlError(SqlState.featureNotSupported, `ALTER ROLE ... ${t.value.toUpperCase()} is not supported`, { position: t.start });
    }
    return { kind: 'alter_role', name, attributes: this.parseRoleAttributes(true) };
  }

  /**
   * [WITH] attribute ...: {LOGIN | SUPERUSER | CREATEROLE | INHERIT | CREATEDB | CREATECLUSTER |
   * REPLICATION | BYPASSRLS} or its NO... form, [ENCRYPTED] PASSWORD {'password' | NULL}, NOPASSWORD.
   * WITH may also come between attributes (Materialize's Terraform provider writes
   * `CREATE ROLE r INHERIT WITH LOGIN NOPASSWORD NOSUPERUSER`).
   */
  private parseRoleAttributes(required: boolean): RoleAttribute[] {
    const attributes: RoleAttribute[] = [];
    for (;;) {
      if (this.eatWord('with')) continue;
      const t = this.peek();
      if (t.kind !== 'word') break;
      if (t.value === 'nopassword') {
        this.next();
        attributes.push({ kind: 'password', value: { kind: 'word', value: 'null', pos: t.start }, pos: t.start });
        continue;
      }
      if (t.value === 'password' || t.value === 'encrypted') {
        this.next();
        if (t.value === 'encrypted') this.expectWord('password');
        attributes.push({ kind: 'password', value: this.parseValue(), pos: t.start });
        continue;
      }
      const negated = t.value.startsWith('no') && ROLE_FLAGS.includes(t.value.slice(2));
      if (!negated && !ROLE_FLAGS.includes(t.value)) break;
      this.next();
      attributes.push({ kind: 'flag', name: negated ? t.value.slice(2) : t.value, value: !negated, pos: t.start });
    }
    if (required && attributes.length === 0) throw this.expected('a role attribute such as LOGIN, SUPERUSER, CREATEROLE, INHERIT or PASSWORD');
    if (this.peek().kind !== 'eof') throw this.expected('a role attribute such as LOGIN, SUPERUSER, CREATEROLE, INHERIT or PASSWORD');
    return attributes;
  }

  /** REASSIGN OWNED BY role [, ...] TO role | DROP OWNED BY role [, ...] [CASCADE | RESTRICT] (after OWNED) */
  private parseOwned(action: 'reassign' | 'drop'): Statement {
    this.expectWord('by');
    const roles = this.parseCommaSeparated(() => this.parseIdent());
    if (action === 'reassign') {
      this.expectWord('to');
      return { kind: 'owned', action, roles, to: this.parseIdent(), cascade: false };
    }
    const cascade = this.eatWord('cascade');
    if (!cascade) this.eatWord('restrict');
    return { kind: 'owned', action, roles, to: undefined, cascade };
  }

  /** DROP {ROLE | USER} [IF EXISTS] name [, ...] */
  private parseDropRoles(): Statement {
    const ifExists = this.parseIfExists();
    return { kind: 'drop_roles', ifExists, names: this.parseCommaSeparated(() => this.parseIdent()) };
  }

  /**
   * GRANT role [, ...] TO member [, ...]
   *   | GRANT {privilege [, ...] | ALL [PRIVILEGES]} ON target TO grantee [, ...]
   * REVOKE likewise, with FROM for TO.
   */
  private parseGrant(grant: boolean): Statement {
    const start = this.peek();
    if (!grant && this.eatWord('grant')) {
      throw new SqlError(SqlState.featureNotSupported, 'GRANT OPTION is not supported', { position: start.start });
    }
    const privileges = this.parsePrivilegeList();
    const to = grant ? 'to' : 'from';
    if (privileges.kind === 'list' && this.eatWord(to)) {
      const members = this.parseCommaSeparated(() => this.parseIdent());
      this.parseGrantTail(grant);
      return { kind: 'role_membership', grant, roles: privileges.names, members };
    }
    this.expectWord('on');
    const target = this.parsePrivilegeTarget();
    this.expectWord(to);
    const grantees = this.parseGrantees();
    this.parseGrantTail(grant);
    return { kind: 'privileges', grant, privileges, target, grantees };
  }

  /** privileges: ALL [PRIVILEGES] | name [, ...] (role names, for GRANT role TO) */
  private parsePrivilegeList(): PrivilegeList {
    const start = this.peek();
    if (this.eatWord('all')) {
      this.eatWord('privileges');
      return { kind: 'all', pos: start.start };
    }
    return { kind: 'list', names: this.parseCommaSeparated(() => this.parseIdent()) };
  }

  /** [WITH GRANT OPTION | WITH ADMIN OPTION] (refused) [CASCADE | RESTRICT] (REVOKE) */
  private parseGrantTail(grant: boolean): void {
    const t = this.peek();
    if (grant && this.eatWord('with')) {
      throw new SqlError(SqlState.featureNotSupported, 'WITH GRANT OPTION and WITH ADMIN OPTION are not supported', { position: t.start });
    }
    if (!grant && !this.eatWord('restrict') && this.peek().kind === 'word' && this.peek().value === 'cascade') {
      throw new SqlError(SqlState.featureNotSupported, 'REVOKE ... CASCADE is not supported', { position: this.peek().start });
    }
  }

  /**
   * target: SYSTEM
   *   | ALL {CONNECTIONS | SECRETS | ...} IN SCHEMA schema [, ...]
   *   | [SECRET | CONNECTION | SCHEMA | DATABASE | TABLE | CLUSTER | TYPE] name [, ...]
   */
  private parsePrivilegeTarget(): PrivilegeTarget {
    const pos = this.peek().start;
    if (this.eatWord('system')) return { kind: 'system', pos };
    if (this.eatWord('all')) {
      const plural = this.expectOneOf(GRANT_PLURAL_TYPES);
      if (plural !== 'connections' && plural !== 'secrets') {
        throw new SqlError(SqlState.featureNotSupported, `GRANT ... ON ALL ${plural.toUpperCase()} is not supported`, {
          position: pos,
          hint: 'iamlink holds CONNECTIONS and SECRETS.',
        });
      }
      this.expectWord('in');
      this.expectWord('schema');
      const schemas = this.parseCommaSeparated(() => this.parseObjectName());
      return { kind: 'all_in_schema', objectType: plural === 'connections' ? 'CONNECTIONS' : 'SECRETS', schemas, pos };
    }
    const t = this.peek();
    const typed = t.kind === 'word' && (GRANT_OBJECT_TYPES as readonly string[]).includes(t.value) && this.isNameStart(this.tokens[this.i + 1]);
    const objectType = typed ? (this.next().value.toUpperCase() as Extract<PrivilegeTarget, { kind: 'objects' }>['objectType']) : 'TABLE';
    return { kind: 'objects', objectType, names: this.parseCommaSeparated(() => this.parseObjectName()), pos };
  }

  /** grantee [, ...]: PUBLIC | [GROUP] role */
  private parseGrantees(): Grantee[] {
    return this.parseCommaSeparated((): Grantee => {
      const t = this.peek();
      if (t.kind === 'word' && t.value === 'public') {
        this.next();
        return { kind: 'public', pos: t.start };
      }
      this.eatWord('group');
      return { kind: 'role', name: this.parseIdent() };
    });
  }

  /**
   * ALTER DEFAULT PRIVILEGES [FOR {ROLE | USER} role [, ...] | FOR ALL ROLES] [IN SCHEMA schema [, ...]]
   *   {GRANT privileges ON types TO grantee [, ...] | REVOKE privileges ON types FROM grantee [, ...]}
   */
  private parseAlterDefaultPrivileges(): Statement {
    this.expectWord('privileges');
    let forRoles: readonly Ident[] | 'all' | undefined;
    if (this.eatWord('for')) {
      if (this.eatWord('all')) {
        this.expectWord('roles');
        forRoles = 'all';
      } else {
        this.expectOneOf(['role', 'user']);
        forRoles = this.parseCommaSeparated(() => this.parseIdent());
      }
    }
    let schemas: ObjectName[] | undefined;
    if (this.eatWord('in')) {
      this.expectWord('schema');
      schemas = this.parseCommaSeparated(() => this.parseObjectName());
    }
    const grant = this.expectOneOf(['grant', 'revoke']) === 'grant';
    const privileges = this.parsePrivilegeList();
    this.expectWord('on');
    const typeToken = this.peek();
    const objectType = { value: this.expectOneOf(GRANT_PLURAL_TYPES), pos: typeToken.start };
    this.expectWord(grant ? 'to' : 'from');
    const grantees = this.parseGrantees();
    this.parseGrantTail(grant);
    return { kind: 'alter_default_privileges', forRoles, schemas, grant, privileges, objectType, grantees };
  }

  /** DROP {SECRET|CONNECTION} [IF EXISTS] name [, ...] [CASCADE | RESTRICT] */
  private parseDrop(objectType: ObjectType): Statement {
    const ifExists = this.parseIfExists();
    const names = [this.parseObjectName()];
    while (this.eatOp(',')) names.push(this.parseObjectName());
    let cascade = false;
    if (this.eatWord('cascade')) cascade = true;
    else this.eatWord('restrict');
    return { kind: 'drop_objects', objectType, ifExists, names, cascade };
  }

  /**
   * CREATE CONNECTION [IF NOT EXISTS] name TO type ( option [, ...] ) [WITH ( option [, ...] )]
   *   | CREATE CONNECTION [IF NOT EXISTS] name FOR type option [, ...] [WITH ( option [, ...] )]
   * (FOR without parentheses: Materialize's older form, still accepted.)
   */
  private parseCreateConnection(): Statement {
    const ifNotExists = this.parseIfNotExists();
    const name = this.parseObjectName();
    const parenthesized = this.eatWord('to');
    if (!parenthesized && !this.eatWord('for')) throw this.expected('TO');
    const typeToken = this.peek();
    if (typeToken.kind !== 'word') throw this.expected('a connection type such as AWS');
    const typeWords = [this.next().value];
    const more = MULTI_WORD_CONNECTION_TYPES[typeWords[0]!];
    for (const word of more ?? []) if (this.eatWord(word)) typeWords.push(word);
    const connectionType: Ident = { value: typeWords.join(' '), pos: typeToken.start };
    // FOR takes its options bare (Materialize); parentheses after FOR are accepted too.
    const options =
      parenthesized || this.peekOp('(') ? this.parseParenthesized(() => this.parseConnectionOption()) : this.parseCommaSeparated(() => this.parseConnectionOption());
    const withOptions = this.parseWithOptions();
    return { kind: 'create_connection', ifNotExists, name, connectionType, options, withOptions };
  }

  /** ALTER CONNECTION [IF EXISTS] name {action [, ...] [WITH (...)] | RENAME TO new | OWNER TO role} */
  private parseAlterConnection(): Statement {
    const ifExists = this.parseIfExists();
    const name = this.parseObjectName();
    if (this.eatWord('rename')) return this.parseRenameTail('CONNECTION', ifExists, name);
    if (this.eatWord('owner')) return this.parseOwnerTail('CONNECTION', ifExists, name);
    const actions: AlterConnectionAction[] = [];
    do {
      actions.push(...this.parseAlterAction());
    } while (this.eatOp(','));
    const withOptions = this.parseWithOptions();
    return { kind: 'alter_connection', ifExists, name, actions, withOptions };
  }

  /** action: SET ( option [, ...] ) | {DROP | RESET} ( name [, ...] ) */
  private parseAlterAction(): AlterConnectionAction[] {
    const verb = this.expectOneOf(['set', 'drop', 'reset']);
    if (verb === 'set') {
      return this.parseParenthesized(() => this.parseConnectionOption()).map((option) => ({ kind: 'set' as const, option }));
    }
    return this.parseParenthesized(() => {
      const pos = this.peek().start;
      return { kind: 'drop' as const, name: this.parseConnectionOptionName(), pos };
    });
  }

  /**
   * SHOW {CONNECTIONS | SECRETS} [{FROM | IN} schema] [LIKE 'pattern' | WHERE expr]
   *   | SHOW ROLES [LIKE 'pattern' | WHERE expr]
   *   | SHOW [REDACTED] CREATE CONNECTION name
   */
  private parseShow(): Statement {
    const word = this.expectOneOf(['connections', 'secrets', 'roles', 'create', 'redacted']);
    if (word === 'roles') return { kind: 'show_objects', objectType: 'ROLES', schema: undefined, filter: this.parseShowFilter() };
    if (word === 'connections' || word === 'secrets') {
      const schema = this.eatWord('from') || this.eatWord('in') ? this.parseObjectName() : undefined;
      return { kind: 'show_objects', objectType: word === 'connections' ? 'CONNECTIONS' : 'SECRETS', schema, filter: this.parseShowFilter() };
    }
    const redacted = word === 'redacted';
    if (redacted) this.expectWord('create');
    this.expectWord('connection');
    return { kind: 'show_create_connection', redacted, name: this.parseObjectName() };
  }

  /**
   * show filter: [LIKE 'pattern' | WHERE expr]. The expression runs to the end of the statement
   * and is kept as written; only its parentheses are checked here, so that it cannot close the
   * query it is placed in.
   */
  private parseShowFilter(): ShowFilter | undefined {
    if (this.eatWord('like')) {
      const t = this.peek();
      if (t.kind !== 'string') throw this.expected('a string literal');
      this.next();
      return { kind: 'like', pattern: t.value, pos: t.start };
    }
    if (!this.eatWord('where')) return undefined;
    const start = this.peek();
    if (start.kind === 'eof') throw this.expected('an expression');
    let depth = 0;
    let last = start;
    while (this.peek().kind !== 'eof') {
      const t = this.next();
      if (t.kind === 'op' && (t.value === '(' || t.value === '[')) depth++;
      if (t.kind === 'op' && (t.value === ')' || t.value === ']') && --depth < 0) {
        throw new SqlError(SqlState.syntaxError, `unbalanced "${t.value}" in WHERE expression`, { position: t.start });
      }
      last = t;
    }
    if (depth > 0) throw this.expected('")"');
    return { kind: 'where', expr: this.text.slice(start.start, last.end), pos: start.start };
  }

  /** COMMENT ON {CONNECTION | SECRET} name IS {'text' | NULL} | COMMENT ON ROLE name IS {'text' | NULL} */
  private parseComment(): Statement {
    this.expectWord('on');
    const what = this.expectOneOf(['connection', 'secret', 'role']);
    if (what === 'role') {
      const role = this.parseIdent();
      this.expectWord('is');
      return { kind: 'comment_role', name: role, comment: this.parseCommentText() };
    }
    const name = this.parseObjectName();
    this.expectWord('is');
    return { kind: 'comment', objectType: what === 'secret' ? 'SECRET' : 'CONNECTION', name, comment: this.parseCommentText() };
  }

  /** {'text' | NULL} */
  private parseCommentText(): { value: string; pos: number } | null {
    const t = this.peek();
    if (t.kind === 'string') {
      this.next();
      return { value: t.value, pos: t.start };
    }
    if (t.kind === 'word' && t.value === 'null') {
      this.next();
      return null;
    }
    throw this.expected('a string literal or NULL');
  }

  /** option: name [=] value */
  private parseConnectionOption(): ConnectionOption {
    const pos = this.peek().start;
    const name = this.parseConnectionOptionName();
    this.eatOp('=');
    const next = this.peek();
    const hasValue = !(next.kind === 'op' && (next.value === ',' || next.value === ')'));
    return { name, value: hasValue ? this.parseValue() : undefined, pos };
  }

  /** The longest known option name made of the next words. */
  private parseConnectionOptionName(): ConnectionOptionName {
    const start = this.peek();
    const words: string[] = [];
    let matched: ConnectionOptionName | undefined;
    let matchedAt = this.i;
    for (let j = this.i; this.tokens[j]?.kind === 'word'; j++) {
      words.push(this.tokens[j]!.value.toUpperCase());
      const candidate = words.join(' ');
      if (!CONNECTION_OPTION_NAMES.some((n) => n === candidate || n.startsWith(candidate + ' '))) break;
      const exact = CONNECTION_OPTION_NAMES.find((n) => n === candidate);
      if (exact) {
        matched = exact;
        matchedAt = j + 1;
      }
    }
    if (!matched) {
      const two = [start, this.tokens[this.i + 1]].map((t) => (t?.kind === 'word' ? t.value : '')).join(' ');
      const retired = RETIRED_OPTIONS[two] ?? (start.kind === 'word' ? RETIRED_OPTIONS[start.value] : undefined);
      if (retired && start.kind === 'word') throw new SqlError(SqlState.syntaxError, retired, { position: start.start });
      throw this.expected('a connection option name such as ACCESS KEY ID, ASSUME ROLE ARN or REGION');
    }
    this.i = matchedAt;
    return matched;
  }

  /** [WITH ( name [[=] value] [, ...] )] */
  private parseWithOptions(): WithOption[] {
    if (!this.eatWord('with')) return [];
    return this.parseParenthesized(() => {
      const t = this.peek();
      if (t.kind !== 'word') throw this.expected('an option name such as VALIDATE');
      this.next();
      this.eatOp('=');
      const next = this.peek();
      const hasValue = !(next.kind === 'op' && (next.value === ',' || next.value === ')'));
      return { name: t.value.toUpperCase(), value: hasValue ? this.parseValue() : undefined, pos: t.start };
    });
  }

  /**
   * secret value: a value alone, or any expression castable to bytea (Materialize's
   * `AS decode('...', 'base64')`), kept as text for the executor to evaluate.
   */
  private parseSecretValue(): OptionValue {
    const start = this.peek();
    const alone = this.tokens[this.i + 1]?.kind === 'eof' && ['string', 'param', 'word', 'number'].includes(start.kind);
    if (alone || start.kind === 'eof') return this.parseValue();
    while (this.peek().kind !== 'eof') this.next();
    return { kind: 'expression', sql: this.text.slice(start.start), pos: start.start };
  }

  /** value: 'string' | number | TRUE | FALSE | SECRET name | word | "quoted identifier" */
  private parseValue(): OptionValue {
    const t = this.peek();
    switch (t.kind) {
      case 'string':
        this.next();
        return { kind: 'string', value: t.value, pos: t.start };
      case 'quoted':
        // Materialize takes an identifier where a string goes: "us-east-1" keeps its case.
        this.next();
        return { kind: 'word', value: t.value, pos: t.start };
      case 'number':
        this.next();
        return { kind: 'number', value: t.value, pos: t.start };
      case 'param':
        this.next();
        return { kind: 'param', index: Number(t.value), pos: t.start };
      case 'word':
        if (t.value === 'secret' && this.isNameStart(this.tokens[this.i + 1])) {
          this.next();
          return { kind: 'secret', name: this.parseObjectName(), pos: t.start };
        }
        this.next();
        if (t.value === 'true' || t.value === 'false') return { kind: 'boolean', value: t.value === 'true', pos: t.start };
        return { kind: 'word', value: t.value, pos: t.start };
      default:
        throw this.expected('a value');
    }
  }

  private peekOp(value: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.value === value;
  }

  private parseParenthesized<T>(item: () => T): T[] {
    this.expectOp('(');
    const items = this.parseCommaSeparated(item);
    this.expectOp(')');
    return items;
  }

  private parseCommaSeparated<T>(item: () => T): T[] {
    const items = [item()];
    while (this.eatOp(',')) items.push(item());
    return items;
  }

  /** name: ident [. ident [. ident]] */
  private parseObjectName(): ObjectName {
    const pos = this.peek().start;
    const parts = [this.parseIdent()];
    while (this.eatOp('.')) parts.push(this.parseIdent());
    if (parts.length > 3) {
      throw new SqlError(SqlState.syntaxError, 'qualified name has too many parts', { position: pos });
    }
    return { parts, pos };
  }

  private parseIdent(): Ident {
    const t = this.peek();
    if (t.kind !== 'word' && t.kind !== 'quoted') throw this.expected('an identifier');
    if (t.value.length > MAX_IDENT_LENGTH) {
      throw new SqlError(SqlState.nameTooLong, `identifier is longer than ${MAX_IDENT_LENGTH} characters`, { position: t.start });
    }
    this.next();
    return { value: t.value, pos: t.start };
  }

  private isNameStart(t: Token | undefined): boolean {
    return t?.kind === 'word' || t?.kind === 'quoted';
  }

  private parseIfNotExists(): boolean {
    if (!this.eatWord('if')) return false;
    this.expectWord('not');
    this.expectWord('exists');
    return true;
  }

  private parseIfExists(): boolean {
    if (!this.eatWord('if')) return false;
    this.expectWord('exists');
    return true;
  }

  private peek(): Token {
    return this.tokens[this.i] ?? this.tokens[this.tokens.length - 1]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private eat(kind: 'word' | 'op', value: string): boolean {
    const t = this.peek();
    if (t.kind !== kind || t.value !== value) return false;
    this.i++;
    return true;
  }

  private eatWord(word: string): boolean {
    return this.eat('word', word);
  }

  private eatOp(op: string): boolean {
    return this.eat('op', op);
  }

  private expectWord(word: string): void {
    if (!this.eatWord(word)) throw this.expected(word.toUpperCase());
  }

  private expectOp(op: string): void {
    if (!this.eatOp(op)) throw this.expected(`"${op}"`);
  }

  private expectOneOf<W extends string>(words: readonly W[]): W {
    const t = this.peek();
    const found = words.find((w) => t.kind === 'word' && t.value === w);
    if (found === undefined) throw this.expected(`one of ${words.map((w) => w.toUpperCase()).join(', ')}`);
    this.i++;
    return found;
  }

  private expected(what: string): SqlError {
    const t = this.peek();
    return new SqlError(SqlState.syntaxError, `Expected ${what}, found ${describeToken(t)}`, { position: t.start });
  }
}
