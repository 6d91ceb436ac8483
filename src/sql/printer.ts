/**
 * Prints statements back to SQL. `redacted` replaces every literal with '<REDACTED>' and is
 * what logs and error texts use; the plain form round-trips through the parser.
 */
import { assertNever } from '../errors.js';
import type { ConnectionOption, Grantee, Ident, ObjectName, OptionValue, PrivilegeList, RoleAttribute, ShowFilter, Statement, WithOption } from './ast.js';
import { tokenize } from './lexer.js';

export interface PrintOptions {
  /** Replace every literal with '<REDACTED>'. */
  readonly redacted?: boolean;
  /** Print secret values too (parser round-trip tests only); otherwise they are always redacted. */
  readonly revealSecretValues?: boolean;
}

export const REDACTED = "'<REDACTED>'";

/** Quote an identifier when it would not survive lower-casing or is not a plain word. */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** Always-quoted identifier: Materialize's stable format, used in mz_connections.create_sql. */
export function quoteIdentAlways(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Keywords Materialize quotes even in its simple format (`Keyword::is_sometimes_reserved` in
 * src/sql-lexer/src/keywords.rs: always reserved, or reserved in a table alias, a column alias
 * or a scalar expression).
 */
const MZ_SOMETIMES_RESERVED: ReadonlySet<string> = new Set(
  ('with select from where group having qualify window order limit offset fetch options returning union except intersect ' +
    'case on join inner cross full left right natural using set outer year month day hour minute second').split(' '),
);

/**
 * An identifier as Materialize prints it in its simple format (SHOW CREATE, redacted_create_sql):
 * bare when it is lower-case letters, digits and underscores not starting with a digit and not a
 * sometimes-reserved keyword (`Ident::can_be_printed_bare`), else double-quoted.
 */
export function quoteIdentSimple(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !MZ_SOMETIMES_RESERVED.has(name) ? name : quoteIdentAlways(name);
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function printObjectName(name: ObjectName): string {
  return name.parts.map((p: Ident) => quoteIdent(p.value)).join('.');
}

export function printValue(value: OptionValue, opts: PrintOptions = {}): string {
  switch (value.kind) {
    case 'string':
      return opts.redacted ? REDACTED : quoteLiteral(value.value);
    case 'number':
      return opts.redacted ? REDACTED : value.value;
    case 'boolean':
      return value.value ? 'true' : 'false';
    case 'word':
      // An identifier stands for a string value (REGION "us-east-1"): redacted like one.
      return opts.redacted ? REDACTED : quoteIdent(value.value);
    case 'secret':
      return `SECRET ${printObjectName(value.name)}`;
    case 'param':
      return `$${value.index}`;
    case 'expression':
      return opts.redacted ? REDACTED : value.sql;
    default:
      return assertNever(value);
  }
}

function printSecretValue(value: OptionValue, opts: PrintOptions): string {
  return printValue(value, { redacted: opts.redacted || !opts.revealSecretValues });
}

function printOption(o: ConnectionOption | WithOption, opts: PrintOptions): string {
  return o.value === undefined ? o.name : `${o.name} = ${printValue(o.value, opts)}`;
}

function printShowFilter(filter: ShowFilter | undefined, opts: PrintOptions): string {
  if (!filter) return '';
  if (filter.kind === 'like') return ` LIKE ${opts.redacted ? REDACTED : quoteLiteral(filter.pattern)}`;
  if (!opts.redacted) return ` WHERE ${filter.expr}`;
  // Redacted: the expression's literals replaced, its words and operators kept.
  const tokens = tokenize(filter.expr).filter((t) => t.kind !== 'eof');
  const shown = tokens.map((t) => (t.kind === 'string' || t.kind === 'number' ? REDACTED : t.kind === 'quoted' ? quoteIdentAlways(t.value) : t.kind === 'param' ? `$${t.value}` : t.value));
  return ` WHERE ${shown.join(' ')}`;
}

function printWith(withOptions: readonly WithOption[], opts: PrintOptions): string {
  return withOptions.length ? ` WITH (${withOptions.map((o) => printOption(o, opts)).join(', ')})` : '';
}

/** Role attributes; a password is never printed unless asked to (revealSecretValues). */
function printRoleAttributes(attributes: readonly RoleAttribute[], opts: PrintOptions): string {
  const printed = attributes.map((a) => {
    if (a.kind === 'flag') return `${a.value ? '' : 'NO'}${a.name.toUpperCase()}`;
    if (a.value.kind === 'word' && a.value.value === 'null') return 'PASSWORD NULL';
    return `PASSWORD ${opts.revealSecretValues ? printValue(a.value) : REDACTED}`;
  });
  return printed.length ? ` WITH ${printed.join(' ')}` : '';
}

function printPrivileges(privileges: PrivilegeList): string {
  return privileges.kind === 'all' ? 'ALL PRIVILEGES' : privileges.names.map((n) => n.value.toUpperCase()).join(', ');
}

function printGrantees(grantees: readonly Grantee[]): string {
  return grantees.map((g) => (g.kind === 'public' ? 'PUBLIC' : quoteIdent(g.name.value))).join(', ');
}

export function printStatement(stmt: Statement, opts: PrintOptions = {}): string {
  switch (stmt.kind) {
    case 'create_secret':
      return `CREATE SECRET ${stmt.ifNotExists ? 'IF NOT EXISTS ' : ''}${printObjectName(stmt.name)} AS ${printSecretValue(stmt.value, opts)}`;
    case 'alter_secret':
      return `ALTER SECRET ${stmt.ifExists ? 'IF EXISTS ' : ''}${printObjectName(stmt.name)} AS ${printSecretValue(stmt.value, opts)}`;
    case 'rename':
      return `ALTER ${stmt.objectType} ${stmt.ifExists ? 'IF EXISTS ' : ''}${printObjectName(stmt.name)} RENAME TO ${quoteIdent(stmt.newName.value)}`;
    case 'drop_objects':
      return `DROP ${stmt.objectType} ${stmt.ifExists ? 'IF EXISTS ' : ''}${stmt.names.map(printObjectName).join(', ')}${stmt.cascade ? ' CASCADE' : ''}`;
    case 'create_connection':
      return (
        `CREATE CONNECTION ${stmt.ifNotExists ? 'IF NOT EXISTS ' : ''}${printObjectName(stmt.name)} TO ${stmt.connectionType.value.toUpperCase()} ` +
        `(${stmt.options.map((o) => printOption(o, opts)).join(', ')})${printWith(stmt.withOptions, opts)}`
      );
    case 'alter_connection': {
      const actions = stmt.actions.map((a) => (a.kind === 'set' ? `SET (${printOption(a.option, opts)})` : `DROP (${a.name})`));
      return `ALTER CONNECTION ${stmt.ifExists ? 'IF EXISTS ' : ''}${printObjectName(stmt.name)} ${actions.join(', ')}${printWith(stmt.withOptions, opts)}`;
    }
    case 'validate_connection':
      return `VALIDATE CONNECTION ${printObjectName(stmt.name)}`;
    case 'show_objects':
      return `SHOW ${stmt.objectType}${stmt.schema ? ` FROM ${printObjectName(stmt.schema)}` : ''}${printShowFilter(stmt.filter, opts)}`;
    case 'show_create_connection':
      return `SHOW ${stmt.redacted ? 'REDACTED ' : ''}CREATE CONNECTION ${printObjectName(stmt.name)}`;
    case 'create_role':
      return `CREATE ${stmt.user ? 'USER' : 'ROLE'} ${quoteIdent(stmt.name.value)}${printRoleAttributes(stmt.attributes, opts)}`;
    case 'alter_role':
      return `ALTER ROLE ${quoteIdent(stmt.name.value)}${printRoleAttributes(stmt.attributes, opts)}`;
    case 'drop_roles':
      return `DROP ROLE ${stmt.ifExists ? 'IF EXISTS ' : ''}${stmt.names.map((n) => quoteIdent(n.value)).join(', ')}`;
    case 'owned': {
      const roles = stmt.roles.map((n) => quoteIdent(n.value)).join(', ');
      return stmt.action === 'reassign' ? `REASSIGN OWNED BY ${roles} TO ${quoteIdent(stmt.to!.value)}` : `DROP OWNED BY ${roles}${stmt.cascade ? ' CASCADE' : ''}`;
    }
    case 'role_membership':
      return `${stmt.grant ? 'GRANT' : 'REVOKE'} ${stmt.roles.map((n) => quoteIdent(n.value)).join(', ')} ${stmt.grant ? 'TO' : 'FROM'} ${stmt.members.map((n) => quoteIdent(n.value)).join(', ')}`;
    case 'privileges': {
      const t = stmt.target;
      const target =
        t.kind === 'system'
          ? 'SYSTEM'
          : t.kind === 'all_in_schema'
            ? `ALL ${t.objectType} IN SCHEMA ${t.schemas.map(printObjectName).join(', ')}`
            : `${t.objectType} ${t.names.map(printObjectName).join(', ')}`;
      return `${stmt.grant ? 'GRANT' : 'REVOKE'} ${printPrivileges(stmt.privileges)} ON ${target} ${stmt.grant ? 'TO' : 'FROM'} ${printGrantees(stmt.grantees)}`;
    }
    case 'alter_owner':
      return `ALTER ${stmt.objectType} ${stmt.ifExists ? 'IF EXISTS ' : ''}${printObjectName(stmt.name)} OWNER TO ${quoteIdent(stmt.owner.value)}`;
    case 'alter_default_privileges': {
      const forRoles = stmt.forRoles === undefined ? '' : stmt.forRoles === 'all' ? ' FOR ALL ROLES' : ` FOR ROLE ${stmt.forRoles.map((n) => quoteIdent(n.value)).join(', ')}`;
      const schemas = stmt.schemas === undefined ? '' : ` IN SCHEMA ${stmt.schemas.map(printObjectName).join(', ')}`;
      return (
        `ALTER DEFAULT PRIVILEGES${forRoles}${schemas} ${stmt.grant ? 'GRANT' : 'REVOKE'} ${printPrivileges(stmt.privileges)} ` +
        `ON ${stmt.objectType.value.toUpperCase()} ${stmt.grant ? 'TO' : 'FROM'} ${printGrantees(stmt.grantees)}`
      );
    }
    case 'comment_role':
      return `COMMENT ON ROLE ${quoteIdent(stmt.name.value)} IS ${stmt.comment === null ? 'NULL' : opts.redacted ? REDACTED : quoteLiteral(stmt.comment.value)}`;
    case 'comment': {
      const comment = stmt.comment === null ? 'NULL' : opts.redacted ? REDACTED : quoteLiteral(stmt.comment.value);
      return `COMMENT ON ${stmt.objectType} ${printObjectName(stmt.name)} IS ${comment}`;
    }
    default:
      return assertNever(stmt);
  }
}
