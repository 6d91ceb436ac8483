/**
 * Statement → plan, with Materialize's checks and wording and precise SQLSTATEs (docs/design.md §2).
 * Pure: reads only the CatalogView it is given.
 */
import {
  DATABASE_NAME,
  fullName,
  PUBLIC_SCHEMA_ID,
  PUBLIC_SCHEMA_NAME,
  referencedSecretIds,
  renderConnectionSql,
  SYSTEM_SCHEMAS,
  type Authority,
  type AwsConnectionDef,
  type CatalogItem,
  type ItemKind,
  type LiteralOrSecret,
} from '../catalog/model.js';
import { assertNever, SqlError, SqlState } from '../errors.js';
import type { AlterConnectionAction, ConnectionOption, ConnectionOptionName, ObjectName, ObjectType, OptionValue, Statement, WithOption } from '../sql/ast.js';
import { quoteLiteral } from '../sql/printer.js';
import { Redacted } from '../secrets/redacted.js';
import { checkEndpoint, checkNotEmpty, checkRegion, checkRoleArn, checkSessionName } from './aws-values.js';
import type { CatalogView } from './catalog-view.js';
import type { Notice, Plan, Planned, PlannedConnection } from './plan.js';
import { planAccessStatement, type PlanningScope } from './access-planner.js';
import { holds, PUBLIC_SCHEMA, requireOwnership, requirePrivilege, type NamedObject } from './privileges.js';

export interface PlanContext {
  /** The session's search_path, schema names in order. */
  readonly searchPath: readonly string[];
  /** Whether the server has a jump role (--aws-connection-role-arn). */
  readonly principalConfigured: boolean;
  /** Who is acting: the session's current role. */
  readonly actor: Authority;
  /** The session's user (which cannot be dropped while the session lasts). */
  readonly sessionRoleId: string;
}

/** The options an AWS connection accepts; anything else parsed is some other type's. */
const AWS_OPTIONS: readonly ConnectionOptionName[] = [
  'ACCESS KEY ID',
  'SECRET ACCESS KEY',
  'SESSION TOKEN',
  'ASSUME ROLE ARN',
  'ASSUME ROLE SESSION NAME',
  'ENDPOINT',
  'REGION',
];

/** Connection types Materialize has that we do not serve. */
const OTHER_CONNECTION_TYPES = ['kafka', 'postgres', 'mysql', 'sql server', 'ssh tunnel', 'aws privatelink', 'confluent schema registry', 'iceberg catalog'];

/** A resolved option value: literal text, or a secret item. */
type Resolved = { readonly kind: 'literal'; readonly value: string; readonly pos: number } | { readonly kind: 'secret'; readonly item: CatalogItem; readonly pos: number };

const OBJECT_KIND: Record<ObjectType, ItemKind> = { SECRET: 'secret', CONNECTION: 'connection' };

/** Materialize's limit on a secret's value. */
const MAX_SECRET_BYTES = 512 * 1024;

export function planStatement(stmt: Statement, view: CatalogView, ctx: PlanContext): Planned {
  return new Planner(view, ctx).plan(stmt);
}

/** An item as privilege messages name it. */
function namedItem(item: CatalogItem): NamedObject {
  return { type: item.kind === 'secret' ? 'SECRET' : 'CONNECTION', fullName: fullName(item.name) };
}

class Planner implements PlanningScope {
  readonly notices: Notice[] = [];

  constructor(
    readonly view: CatalogView,
    readonly ctx: PlanContext,
  ) {}

  /** The actor must own the item (ALTER, DROP, RENAME, COMMENT, OWNER TO). */
  requireOwner(item: CatalogItem, pos?: number): void {
    requireOwnership(this.ctx.actor, item.ownerId, namedItem(item), pos);
  }

  /** The actor must hold USAGE on the item (a secret a connection uses, a connection to VALIDATE). */
  requireUsage(item: CatalogItem, pos?: number): void {
    requirePrivilege(this.ctx.actor, item.privileges, 'U', namedItem(item), pos);
  }

  /** CREATE in the schema an item is created in. */
  private requireCreate(schemaId: string, pos?: number): void {
    requirePrivilege(this.ctx.actor, this.view.schemaPrivileges(schemaId), 'C', PUBLIC_SCHEMA, pos);
  }

  plan(stmt: Statement): Planned {
    const { plan, tag } = this.planBody(stmt);
    return { plan, tag, notices: this.notices };
  }

  private planBody(stmt: Statement): { plan: Plan; tag: string } {
    switch (stmt.kind) {
      case 'create_secret':
        return { plan: this.planCreateSecret(stmt), tag: 'CREATE SECRET' };
      case 'alter_secret':
        return { plan: this.planAlterSecret(stmt), tag: 'ALTER SECRET' };
      case 'rename':
        return { plan: this.planRename(stmt), tag: `ALTER ${stmt.objectType}` };
      case 'drop_objects':
        return { plan: this.planDrop(stmt), tag: `DROP ${stmt.objectType}` };
      case 'create_connection':
        return { plan: this.planCreateConnection(stmt), tag: 'CREATE CONNECTION' };
      case 'alter_connection':
        return { plan: this.planAlterConnection(stmt), tag: 'ALTER CONNECTION' };
      case 'validate_connection': {
        const item = this.resolveItem(stmt.name, 'connection');
        this.requireUsage(item, stmt.name.pos);
        return { plan: { kind: 'validate_connection', id: item.id, definition: item.definition! }, tag: 'VALIDATE CONNECTION' };
      }
      case 'show_objects':
        return { plan: this.planShowObjects(stmt), tag: 'SHOW' };
      case 'show_create_connection':
        return { plan: this.planShowCreateConnection(stmt), tag: 'SHOW' };
      case 'comment':
        return { plan: this.planComment(stmt), tag: 'COMMENT' };
      case 'create_role':
      case 'alter_role':
      case 'drop_roles':
      case 'role_membership':
      case 'privileges':
      case 'alter_owner':
      case 'alter_default_privileges':
      case 'owned':
      case 'comment_role':
        return planAccessStatement(this, stmt);
      default:
        return assertNever(stmt);
    }
  }

  // ---- secrets -------------------------------------------------------------------------

  private planCreateSecret(stmt: Extract<Statement, { kind: 'create_secret' }>): Plan {
    const name = this.nameForCreate(stmt.name);
    this.requireCreate(PUBLIC_SCHEMA_ID, stmt.name.pos);
    if (this.alreadyExists(name, 'secret', stmt.ifNotExists)) return { kind: 'noop' };
    return { kind: 'create_secret', name, value: this.secretValue(stmt.value) };
  }

  private planAlterSecret(stmt: Extract<Statement, { kind: 'alter_secret' }>): Plan {
    const item = this.resolveItemIfExists(stmt.name, 'secret', stmt.ifExists);
    if (!item) return { kind: 'noop' };
    this.requireOwner(item, stmt.name.pos);
    return { kind: 'alter_secret', id: item.id, value: this.secretValue(stmt.value) };
  }

  private secretValue(value: OptionValue): Redacted<string> {
    if (value.kind === 'word' && value.value === 'null') {
      throw new SqlError(SqlState.nullValueNotAllowed, 'secret value must not be NULL', { position: value.pos, hint: 'Give the secret a value, or DROP SECRET it.' });
    }
    if (value.kind !== 'string') {
      throw new SqlError(SqlState.invalidParameterValue, 'secret value must be a string literal', { position: value.pos });
    }
    const bytes = Buffer.byteLength(value.value);
    if (bytes > MAX_SECRET_BYTES) {
      // Never the value itself: only its size.
      throw new SqlError(SqlState.programLimitExceeded, `secret value is ${bytes} bytes; the limit is ${MAX_SECRET_BYTES} bytes (512 KiB)`, { position: value.pos });
    }
    return new Redacted(value.value);
  }

  // ---- rename and drop -----------------------------------------------------------------

  private planRename(stmt: Extract<Statement, { kind: 'rename' }>): Plan {
    const kind = OBJECT_KIND[stmt.objectType];
    const item = this.resolveItemIfExists(stmt.name, kind, stmt.ifExists);
    if (!item) return { kind: 'noop' };
    this.requireOwner(item, stmt.name.pos);
    const newName = stmt.newName.value;
    const clash = this.view.itemByName(item.schemaId, newName);
    if (clash && clash.id !== item.id) {
      throw new SqlError(SqlState.duplicateObject, `${clash.kind} "${fullName(newName)}" already exists`, { position: stmt.newName.pos });
    }
    const nameOf = (id: string): string => (id === item.id ? newName : this.itemName(id));
    const targets = kind === 'connection' ? [item] : this.view.dependents(item.id);
    const rerendered = targets.map((c) => ({
      id: c.id,
      connection: this.plannedConnection(c.id === item.id ? newName : c.name, c.definition!, nameOf),
    }));
    return { kind: 'rename', objectType: stmt.objectType, id: item.id, newName, rerendered };
  }

  private planDrop(stmt: Extract<Statement, { kind: 'drop_objects' }>): Plan {
    const kind = OBJECT_KIND[stmt.objectType];
    const targets = new Map<string, CatalogItem>();
    for (const name of stmt.names) {
      const item = this.resolveItemIfExists(name, kind, stmt.ifExists);
      if (item) this.requireOwner(item, name.pos);
      if (item) targets.set(item.id, item);
    }
    for (const item of [...targets.values()]) {
      for (const dependent of this.view.dependents(item.id)) {
        if (targets.has(dependent.id)) continue;
        if (!stmt.cascade) {
          throw new SqlError(SqlState.dependentObjectsStillExist, `cannot drop ${item.kind} "${item.name}": still depended upon by ${dependent.kind} "${dependent.name}"`, {
            hint: `Drop ${dependent.kind} "${dependent.name}" first, or use DROP ${stmt.objectType} ... CASCADE to drop it too.`,
          });
        }
        this.requireOwner(dependent);
        this.notices.push({ code: SqlState.successfulCompletion, message: `drop cascades to ${dependent.kind} "${fullName(dependent.name)}"` });
        targets.set(dependent.id, dependent);
      }
    }
    if (targets.size === 0) return { kind: 'noop' };
    return { kind: 'drop', items: [...targets.values()] };
  }

  // ---- connections ---------------------------------------------------------------------

  private planCreateConnection(stmt: Extract<Statement, { kind: 'create_connection' }>): Plan {
    const type = stmt.connectionType.value;
    if (type !== 'aws') {
      const known = OTHER_CONNECTION_TYPES.includes(type);
      throw new SqlError(known ? SqlState.featureNotSupported : SqlState.syntaxError, known ? `${type.toUpperCase()} connections are not supported` : `unknown connection type ${type.toUpperCase()}`, {
        position: stmt.connectionType.pos,
        hint: 'iamlink serves AWS connections: CREATE CONNECTION name TO AWS (...).',
      });
    }
    const name = this.nameForCreate(stmt.name);
    this.requireCreate(PUBLIC_SCHEMA_ID, stmt.name.pos);
    const validate = this.planWithOptions(stmt.withOptions);
    const options = this.collectOptions(stmt.options);
    // Resolve before the existence check so that bad input is reported even with IF NOT EXISTS.
    const resolved = this.resolveOptions(options);
    const definition = this.buildAwsDefinition(resolved, '');
    if (this.alreadyExists(name, 'connection', stmt.ifNotExists)) return { kind: 'noop' };
    if (definition.assume_role_arn !== undefined && !this.ctx.principalConfigured) {
      this.notices.push({
        code: SqlState.successfulCompletion,
        message: 'the server has no AWS connection role configured, so this connection has no principal yet',
        hint: 'Start iamlink with --aws-connection-role-arn to give assume-role connections a principal and an example trust policy.',
      });
    }
    return { kind: 'create_connection', name, connection: this.plannedConnection(name, definition, (id) => this.itemName(id)), validate };
  }

  private planAlterConnection(stmt: Extract<Statement, { kind: 'alter_connection' }>): Plan {
    const item = this.resolveItemIfExists(stmt.name, 'connection', stmt.ifExists);
    const validate = this.planWithOptions(stmt.withOptions);
    if (!item) return { kind: 'noop' };
    this.requireOwner(item, stmt.name.pos);
    const current = this.optionsOfDefinition(item.definition!);
    const nameOf = (a: AlterConnectionAction): ConnectionOptionName => (a.kind === 'set' ? a.option.name : a.name);
    const posOf = (a: AlterConnectionAction): number => (a.kind === 'set' ? a.option.pos : a.pos);
    // Every option both SET and DROP/RESET, and every option AWS does not take, named at once.
    const setNames = new Set(stmt.actions.filter((a) => a.kind === 'set').map(nameOf));
    const both = stmt.actions.filter((a) => a.kind !== 'set' && setNames.has(nameOf(a)));
    if (both.length > 0) {
      throw new SqlError(SqlState.syntaxError, `cannot both SET and DROP/RESET options ${[...new Set(both.map(nameOf))].join(', ')}`, { position: posOf(both[0]!) });
    }
    this.checkOptionsAllowed(stmt.actions.map((a) => ({ name: nameOf(a), pos: posOf(a) })));
    const touched = new Set<ConnectionOptionName>();
    for (const action of stmt.actions) {
      const name = nameOf(action);
      const pos = posOf(action);
      if (touched.has(name)) throw new SqlError(SqlState.syntaxError, `${name} specified more than once`, { position: pos });
      touched.add(name);
      if (action.kind === 'set') {
        if (action.option.value === undefined) throw this.missingValue(name, pos);
        current.set(name, this.resolveValue(name, action.option.value));
      } else {
        current.delete(name);
      }
    }
    const definition = this.buildAwsDefinition(current, 'invalid ALTER CONNECTION: ');
    return { kind: 'alter_connection', id: item.id, connection: this.plannedConnection(item.name, definition, (id) => this.itemName(id)), validate };
  }

  /** WITH (VALIDATE [= bool]) → whether to validate. */
  private planWithOptions(options: readonly WithOption[]): boolean {
    let validate: boolean | undefined;
    for (const o of options) {
      if (o.name !== 'VALIDATE') {
        throw new SqlError(SqlState.syntaxError, `unknown WITH option ${o.name}`, { position: o.pos, hint: 'The only WITH option is VALIDATE [= true | false].' });
      }
      if (validate !== undefined) throw new SqlError(SqlState.syntaxError, 'VALIDATE specified more than once', { position: o.pos });
      if (o.value === undefined) validate = true;
      else if (o.value.kind === 'boolean') validate = o.value.value;
      else throw new SqlError(SqlState.invalidParameterValue, 'invalid VALIDATE: expected true or false', { position: o.value.pos });
    }
    return validate ?? false;
  }

  /** Options by name, refusing duplicates and options other connection types take. */
  private collectOptions(options: readonly ConnectionOption[]): Map<ConnectionOptionName, ConnectionOption> {
    const byName = new Map<ConnectionOptionName, ConnectionOption>();
    for (const o of options) {
      if (byName.has(o.name)) throw new SqlError(SqlState.syntaxError, `${o.name} specified more than once`, { position: o.pos });
      byName.set(o.name, o);
    }
    this.checkOptionsAllowed(options);
    return byName;
  }

  /** Options AWS connections do not take: all named in one error, as Materialize does. */
  private checkOptionsAllowed(options: readonly { readonly name: ConnectionOptionName; readonly pos: number }[]): void {
    const foreign = options.filter((o) => !AWS_OPTIONS.includes(o.name));
    if (foreign.length === 0) return;
    throw new SqlError(SqlState.syntaxError, `AWS connections do not support ${[...new Set(foreign.map((o) => o.name))].join(', ')} values`, {
      position: foreign[0]!.pos,
      hint: `AWS connections take ${AWS_OPTIONS.join(', ')}.`,
    });
  }

  private resolveOptions(options: Map<ConnectionOptionName, ConnectionOption>): Map<ConnectionOptionName, Resolved> {
    const resolved = new Map<ConnectionOptionName, Resolved>();
    for (const [name, o] of options) {
      if (o.value === undefined) throw this.missingValue(name, o.pos);
      resolved.set(name, this.resolveValue(name, o.value));
    }
    return resolved;
  }

  private missingValue(name: ConnectionOptionName, pos: number): SqlError {
    return new SqlError(SqlState.syntaxError, `${name} requires a value`, { position: pos });
  }

  /** Type-check one option's value and resolve secret references. */
  private resolveValue(name: ConnectionOptionName, value: OptionValue): Resolved {
    const secretOnly = name === 'SECRET ACCESS KEY';
    const secretAllowed = secretOnly || name === 'ACCESS KEY ID' || name === 'SESSION TOKEN';
    if (value.kind === 'secret') {
      if (!secretAllowed) {
        throw new SqlError(SqlState.invalidParameterValue, `invalid ${name}: must provide a string value, not a secret`, { position: value.pos });
      }
      const secret = this.resolveItem(value.name, 'secret');
      this.requireUsage(secret, value.pos);
      return { kind: 'secret', item: secret, pos: value.pos };
    }
    if (secretOnly) {
      throw new SqlError(SqlState.invalidParameterValue, `invalid ${name}: must provide a secret value`, {
        position: value.pos,
        hint: `Store the key with CREATE SECRET and write ${name} = SECRET <name>.`,
      });
    }
    // An identifier stands for a string, as in Materialize: REGION us_east_1, REGION "us-east-1".
    if (value.kind !== 'string' && value.kind !== 'word') {
      throw new SqlError(SqlState.invalidParameterValue, `invalid ${name}: must provide a string value`, { position: value.pos });
    }
    return { kind: 'literal', value: value.value, pos: value.pos };
  }

  /** Check the combination of auth options and the values' formats; build the stored form. */
  private buildAwsDefinition(options: Map<ConnectionOptionName, Resolved>, prefix: string): AwsConnectionDef {
    const has = (n: ConnectionOptionName): boolean => options.has(n);
    const fail = (message: string): SqlError => new SqlError(SqlState.invalidParameterValue, prefix + message);
    // In Materialize's order: the credential set is whole or absent, then the role, then the
    // two together — so the error names what is really wrong.
    const keys = has('ACCESS KEY ID') || has('SECRET ACCESS KEY') || has('SESSION TOKEN');
    if (keys && !(has('ACCESS KEY ID') && has('SECRET ACCESS KEY'))) throw fail('must specify both ACCESS KEY ID and SECRET ACCESS KEY with optional SESSION TOKEN');
    if (has('ASSUME ROLE SESSION NAME') && !has('ASSUME ROLE ARN')) throw fail('must specify ASSUME ROLE ARN with optional ASSUME ROLE SESSION NAME');
    const role = has('ASSUME ROLE ARN');
    if (!keys && !role) throw fail('must specify either ASSUME ROLE ARN or ACCESS KEY ID and SECRET ACCESS KEY');
    if (keys && role) throw fail('cannot specify both ACCESS KEY ID and ASSUME ROLE ARN');

    const literal = (n: ConnectionOptionName, check?: (v: string, pos: number) => void): string | undefined => {
      const v = options.get(n);
      if (v === undefined) return undefined;
      if (v.kind !== 'literal') throw new Error(`${n} resolved to a secret`);
      checkNotEmpty(n, v.value, v.pos);
      check?.(v.value, v.pos);
      return v.value;
    };
    const either = (n: ConnectionOptionName): LiteralOrSecret | undefined => {
      const v = options.get(n);
      if (v === undefined) return undefined;
      if (v.kind === 'secret') return { secret: v.item.id };
      checkNotEmpty(n, v.value, v.pos);
      return { literal: v.value };
    };
    const secretKey = options.get('SECRET ACCESS KEY');
    const def: AwsConnectionDef = {
      endpoint: literal('ENDPOINT', checkEndpoint),
      region: literal('REGION', checkRegion),
      access_key_id: either('ACCESS KEY ID'),
      secret_access_key: secretKey?.kind === 'secret' ? secretKey.item.id : undefined,
      session_token: either('SESSION TOKEN'),
      assume_role_arn: literal('ASSUME ROLE ARN', checkRoleArn),
      assume_role_session_name: literal('ASSUME ROLE SESSION NAME', checkSessionName),
    };
    // Drop absent fields so the stored JSON has only what was given.
    return Object.fromEntries(Object.entries(def).filter(([, v]) => v !== undefined)) as AwsConnectionDef;
  }

  /** The stored definition back as resolved options, for ALTER CONNECTION. */
  private optionsOfDefinition(def: AwsConnectionDef): Map<ConnectionOptionName, Resolved> {
    const out = new Map<ConnectionOptionName, Resolved>();
    const put = (n: ConnectionOptionName, v: LiteralOrSecret | string | undefined): void => {
      if (v === undefined) return;
      if (typeof v === 'string') out.set(n, { kind: 'literal', value: v, pos: 0 });
      else if ('literal' in v) out.set(n, { kind: 'literal', value: v.literal, pos: 0 });
      else out.set(n, { kind: 'secret', item: this.itemById(v.secret), pos: 0 });
    };
    put('ENDPOINT', def.endpoint);
    put('REGION', def.region);
    put('ACCESS KEY ID', def.access_key_id);
    put('SECRET ACCESS KEY', def.secret_access_key === undefined ? undefined : { secret: def.secret_access_key });
    put('SESSION TOKEN', def.session_token);
    put('ASSUME ROLE ARN', def.assume_role_arn);
    put('ASSUME ROLE SESSION NAME', def.assume_role_session_name);
    return out;
  }

  private plannedConnection(name: string, definition: AwsConnectionDef, secretName: (id: string) => string): PlannedConnection {
    return {
      definition,
      createSql: renderConnectionSql(name, definition, secretName, 'catalog'),
      redactedCreateSql: renderConnectionSql(name, definition, secretName, 'catalog_redacted'),
      dependsOn: referencedSecretIds(definition),
    };
  }

  // ---- SHOW ----------------------------------------------------------------------------

  /**
   * SHOW CONNECTIONS / SHOW SECRETS / SHOW ROLES, as Materialize plans them (show.rs, `ShowSelect::new`): the
   * base query over mz_internal.mz_show_*, the user's filter around it, every column in order.
   * A system schema holds no user items, so FROM mz_catalog shows none.
   */
  private planShowObjects(stmt: Extract<Statement, { kind: 'show_objects' }>): Plan {
    const schemaId = stmt.schema ? this.resolveSchema(stmt.schema.parts.map((p) => p.value), stmt.schema.pos, 'read') : PUBLIC_SCHEMA_ID;
    const inSchema = schemaId === undefined ? 'false' : `schema_id = ${quoteLiteral(schemaId)}`;
    const columns = stmt.objectType === 'CONNECTIONS' ? ['name', 'type', 'comment'] : stmt.objectType === 'ROLES' ? ['name'] : ['name', 'comment'];
    const base = {
      CONNECTIONS: `SELECT name, type, comment FROM mz_internal.mz_show_connections connections WHERE ${inSchema}`,
      SECRETS: `SELECT name, comment FROM mz_internal.mz_show_secrets secrets WHERE ${inSchema}`,
      // Users' roles (Materialize lists no system role).
      ROLES: "SELECT name FROM mz_catalog.mz_roles roles WHERE id LIKE 'u%'",
    }[stmt.objectType];
    const head = `SELECT ${columns.join(', ')} FROM (${base}) q WHERE `;
    const tail = ` ORDER BY ${columns.join(', ')}`;
    const filter = stmt.filter;
    if (filter?.kind === 'where') {
      // Parenthesised: the expression is text the engine's parser reads, and the gate checks.
      const sql = `${head}(${filter.expr}\n)${tail}`;
      return { kind: 'query', sql, filter: { offset: head.length + 1, length: filter.expr.length, pos: filter.pos } };
    }
    const where = filter?.kind === 'like' ? `name LIKE ${quoteLiteral(filter.pattern)}` : 'true';
    return { kind: 'query', sql: `${head}${where}${tail}` };
  }

  /**
   * SHOW [REDACTED] CREATE CONNECTION: Materialize's simple format with names for ids and a
   * closing semicolon (show.rs, `humanize_sql_for_show_create`), from the stored definition and
   * the secrets' names now.
   */
  private planShowCreateConnection(stmt: Extract<Statement, { kind: 'show_create_connection' }>): Plan {
    const item = this.resolveItem(stmt.name, 'connection');
    // Anyone may ask, as in Materialize; a literal SESSION TOKEN (a credential) shows only to those
    // who may use the connection, and as '<REDACTED>' to the others.
    const redacted = stmt.redacted || !holds(this.ctx.actor, item.privileges, 'U');
    const createSql = renderConnectionSql(item.name, item.definition!, (id) => this.itemName(id), redacted ? 'show_redacted' : 'show');
    return { kind: 'query', sql: `SELECT ${quoteLiteral(fullName(item.name))}::text AS name, ${quoteLiteral(createSql)}::text AS create_sql` };
  }

  // ---- COMMENT ---------------------------------------------------------------------------

  /**
   * COMMENT ON {CONNECTION | SECRET} name IS {'text' | NULL}: the same checks as other DDL on an
   * item (42704 unknown, 42809 wrong type) and refused in the system schemas, which hold only
   * system objects.
   */
  private planComment(stmt: Extract<Statement, { kind: 'comment' }>): Plan {
    const qualifier = stmt.name.parts.slice(0, -1).map((p) => p.value);
    if (qualifier.length > 0) this.resolveSchema(qualifier, stmt.name.pos, 'create');
    const item = this.resolveItem(stmt.name, OBJECT_KIND[stmt.objectType]);
    this.requireOwner(item, stmt.name.pos);
    return { kind: 'comment', id: item.id, comment: stmt.comment?.value ?? null };
  }

  // ---- names ---------------------------------------------------------------------------

  /** The item name a CREATE writes, after checking its database and schema. */
  private nameForCreate(name: ObjectName): string {
    const parts = name.parts.map((p) => p.value);
    this.resolveSchema(parts.slice(0, -1), name.pos, 'create');
    return parts[parts.length - 1]!;
  }

  /**
   * The schema id for the qualifier of a name ([] | [schema] | [database, schema]). Only
   * `public` holds user items; system schemas are read-only.
   */
  resolveSchema(qualifier: readonly string[], pos: number, mode: 'create' | 'read'): string | undefined {
    if (qualifier.length === 2 && qualifier[0] !== DATABASE_NAME) {
      throw new SqlError(SqlState.invalidCatalogName, `unknown database '${qualifier[0]}'`, { position: pos });
    }
    const schema = qualifier.length === 0 ? this.defaultSchema(pos, mode) : qualifier[qualifier.length - 1]!;
    if (schema === PUBLIC_SCHEMA_NAME) return PUBLIC_SCHEMA_ID;
    if ((SYSTEM_SCHEMAS as readonly string[]).includes(schema)) {
      if (mode === 'create') throw new SqlError(SqlState.insufficientPrivilege, `system schema '${schema}' cannot be modified`, { position: pos });
      return undefined; // readable, but holds no user items
    }
    throw new SqlError(SqlState.invalidSchemaName, `unknown schema '${schema}'`, { position: pos });
  }

  private defaultSchema(pos: number, mode: 'create' | 'read'): string {
    if (this.ctx.searchPath.includes(PUBLIC_SCHEMA_NAME)) return PUBLIC_SCHEMA_NAME;
    if (mode === 'read') return PUBLIC_SCHEMA_NAME;
    throw new SqlError(SqlState.invalidSchemaName, 'no schema has been selected to create in', {
      position: pos,
      hint: "Qualify the name (public.name) or include 'public' in search_path.",
    });
  }

  private lookup(name: ObjectName): CatalogItem | undefined {
    const parts = name.parts.map((p) => p.value);
    const schemaId = this.resolveSchema(parts.slice(0, -1), name.pos, 'read');
    return schemaId === undefined ? undefined : this.view.itemByName(schemaId, parts[parts.length - 1]!);
  }

  resolveItem(name: ObjectName, kind: ItemKind): CatalogItem {
    const item = this.lookup(name);
    if (!item) throw this.unknownItem(name);
    if (item.kind !== kind) {
      throw new SqlError(SqlState.wrongObjectType, `${fullName(item.name)} is not a ${kind}`, { position: name.pos });
    }
    return item;
  }

  resolveItemIfExists(name: ObjectName, kind: ItemKind, ifExists: boolean): CatalogItem | undefined {
    if (ifExists && !this.lookup(name)) {
      this.notices.push({ code: SqlState.undefinedObject, message: `${kind} "${name.parts.map((p) => p.value).join('.')}" does not exist, skipping` });
      return undefined;
    }
    return this.resolveItem(name, kind);
  }

  private unknownItem(name: ObjectName): SqlError {
    return new SqlError(SqlState.undefinedObject, `unknown catalog item '${name.parts.map((p) => p.value).join('.')}'`, { position: name.pos });
  }

  /** Throws 42710 when the name is taken, or records a NOTICE and returns true with IF NOT EXISTS. */
  private alreadyExists(name: string, kind: ItemKind, ifNotExists: boolean): boolean {
    const existing = this.view.itemByName(PUBLIC_SCHEMA_ID, name);
    if (!existing) return false;
    const message = `${existing.kind} "${fullName(name)}" already exists`;
    if (ifNotExists && existing.kind === kind) {
      this.notices.push({ code: SqlState.duplicateObject, message: `${message}, skipping` });
      return true;
    }
    throw new SqlError(SqlState.duplicateObject, message);
  }

  private itemById(id: string): CatalogItem {
    const item = this.view.itemById(id);
    if (!item) throw new Error(`catalog item ${id} was not loaded`);
    return item;
  }

  private itemName(id: string): string {
    return this.itemById(id).name;
  }
}
