/**
 * Planning the statements about roles and privileges: CREATE/ALTER/DROP ROLE, GRANT and REVOKE
 * (of roles and of privileges), ALTER ... OWNER TO and ALTER DEFAULT PRIVILEGES, with
 * Materialize's checks and wording (docs/privileges.md). Pure: reads only the CatalogView.
 */
import {
  fullName,
  PUBLIC_ROLE_ID,
  RESERVED_ROLE_NAMES,
  SYSTEM_ROLE_ID,
  type CatalogItem,
  type ItemKind,
  type RoleRecord,
} from '../catalog/model.js';
import { SqlError, SqlState } from '../errors.js';
import type { Grantee, Ident, ObjectName, PrivilegeList, RoleAttribute, Statement } from '../sql/ast.js';
import { Redacted } from '../secrets/redacted.js';
import type { CatalogView } from './catalog-view.js';
import type { AclChange, DefaultPrivilege, Notice, Plan, PlannedRoleAttributes } from './plan.js';
import type { PlanContext } from './planner.js';
import {
  PRIVILEGE_NAMES,
  PRIVILEGES_OF,
  PUBLIC_SCHEMA,
  requireCreateRole,
  requireMembership,
  requireOwnership,
  requirePrivilege,
  requireSuperuser,
  sortLetters,
  type AclObjectType,
  type PrivilegeLetter,
} from './privileges.js';

/** What the access planner needs of the item planner. */
export interface PlanningScope {
  readonly view: CatalogView;
  readonly ctx: PlanContext;
  readonly notices: Notice[];
  resolveItem(name: ObjectName, kind: ItemKind): CatalogItem;
  resolveItemIfExists(name: ObjectName, kind: ItemKind, ifExists: boolean): CatalogItem | undefined;
  resolveSchema(qualifier: readonly string[], pos: number, mode: 'create' | 'read'): string | undefined;
  requireOwner(item: CatalogItem, pos?: number): void;
}

type AccessStatement = Extract<
  Statement,
  { kind: 'create_role' | 'alter_role' | 'drop_roles' | 'role_membership' | 'privileges' | 'alter_owner' | 'alter_default_privileges' | 'owned' | 'comment_role' }
>;

/** Attributes Materialize (and so iamlink) does not have as role attributes. */
const UNSUPPORTED_ATTRIBUTES = new Set(['createdb', 'createcluster', 'replication', 'bypassrls']);

const ITEM_TYPES: Record<ItemKind, AclObjectType> = { connection: 'CONNECTION', secret: 'SECRET' };

export function planAccessStatement(scope: PlanningScope, stmt: AccessStatement): { plan: Plan; tag: string } {
  const planner = new AccessPlanner(scope);
  switch (stmt.kind) {
    case 'create_role':
      return { plan: planner.createRole(stmt), tag: 'CREATE ROLE' };
    case 'alter_role':
      return { plan: planner.alterRole(stmt), tag: 'ALTER ROLE' };
    case 'drop_roles':
      return { plan: planner.dropRoles(stmt), tag: 'DROP ROLE' };
    case 'role_membership':
      return { plan: planner.membership(stmt), tag: stmt.grant ? 'GRANT ROLE' : 'REVOKE ROLE' };
    case 'privileges':
      return { plan: planner.privileges(stmt), tag: stmt.grant ? 'GRANT' : 'REVOKE' };
    case 'alter_owner':
      return { plan: planner.alterOwner(stmt), tag: `ALTER ${stmt.objectType}` };
    case 'alter_default_privileges':
      return { plan: planner.defaultPrivileges(stmt), tag: 'ALTER DEFAULT PRIVILEGES' };
    case 'owned':
      return { plan: planner.owned(stmt), tag: stmt.action === 'reassign' ? 'REASSIGN OWNED' : 'DROP OWNED' };
    case 'comment_role':
      return { plan: planner.commentRole(stmt), tag: 'COMMENT' };
  }
}

class AccessPlanner {
  constructor(private readonly scope: PlanningScope) {}

  private get actor() {
    return this.scope.ctx.actor;
  }

  // ---- roles ---------------------------------------------------------------------------

  /** CREATE ROLE: CREATEROLE to create, superuser to create a superuser. */
  createRole(stmt: Extract<AccessStatement, { kind: 'create_role' }>): Plan {
    const name = stmt.name.value;
    requireCreateRole(this.actor);
    this.checkReserved(stmt.name);
    const { flags, password } = this.attributes(stmt.attributes);
    const attributes: PlannedRoleAttributes = {
      login: flags.get('login') ?? stmt.user,
      superuser: flags.get('superuser') ?? false,
      createrole: flags.get('createrole') ?? false,
      inherit: flags.get('inherit') ?? true,
    };
    if (attributes.superuser) requireSuperuser(this.actor, 'create superuser role');
    if (this.scope.view.roleByName(name)) throw new SqlError(SqlState.duplicateObject, `role "${name}" already exists`, { position: stmt.name.pos });
    return { kind: 'create_role', name, attributes, password: password ?? null };
  }

  /**
   * ALTER ROLE: CREATEROLE for a role that is not a superuser, superuser for one that is (or
   * becomes one); a role may change its own password.
   */
  alterRole(stmt: Extract<AccessStatement, { kind: 'alter_role' }>): Plan {
    const role = this.role(stmt.name);
    this.checkSystemRole(role, stmt.name);
    const { flags, password } = this.attributes(stmt.attributes);
    const ownPassword = role.id === this.actor.role.id && flags.size === 0;
    if (!ownPassword) requireCreateRole(this.actor);
    if (role.superuser || flags.get('superuser') === true) requireSuperuser(this.actor, 'alter superuser role');
    const attributes: PlannedRoleAttributes = {
      login: flags.get('login') ?? role.login,
      superuser: flags.get('superuser') ?? role.superuser,
      createrole: flags.get('createrole') ?? role.createrole,
      inherit: flags.get('inherit') ?? role.inherit,
    };
    const lastSuperuser = role.superuser && role.login && !(attributes.superuser && attributes.login) && !this.otherSuperuserLogin(role.id);
    if (lastSuperuser) {
      throw new SqlError(SqlState.insufficientPrivilege, 'permission denied to alter role', {
        detail: `"${role.name}" is the last superuser that can log in: it keeps SUPERUSER and LOGIN.`,
        hint: 'Make another superuser with LOGIN first.',
      });
    }
    return { kind: 'alter_role', role, attributes, password };
  }

  /** COMMENT ON ROLE: CREATEROLE (superuser for a superuser role), as Materialize asks. */
  commentRole(stmt: Extract<AccessStatement, { kind: 'comment_role' }>): Plan {
    const role = this.role(stmt.name);
    this.checkSystemRole(role, stmt.name);
    requireCreateRole(this.actor);
    if (role.superuser) requireSuperuser(this.actor, 'alter superuser role');
    return { kind: 'comment_role', role, comment: stmt.comment?.value ?? null };
  }

  /** DROP ROLE: CREATEROLE (superuser for a superuser); refused while the role owns or holds anything. */
  dropRoles(stmt: Extract<AccessStatement, { kind: 'drop_roles' }>): Plan {
    requireCreateRole(this.actor);
    const roles = new Map<string, RoleRecord>();
    for (const name of stmt.names) {
      const role = this.scope.view.roleByName(name.value);
      if (!role && stmt.ifExists) {
        this.scope.notices.push({ code: SqlState.undefinedObject, message: `role "${name.value}" does not exist, skipping` });
        continue;
      }
      const found = this.role(name);
      this.checkSystemRole(found, name);
      if (found.superuser) requireSuperuser(this.actor, 'drop superuser role');
      if (found.id === this.actor.role.id) throw new SqlError(SqlState.objectInUse, 'current role cannot be dropped', { position: name.pos });
      if (found.id === this.scope.ctx.sessionRoleId) throw new SqlError(SqlState.objectInUse, 'session role cannot be dropped', { position: name.pos });
      roles.set(found.id, found);
    }
    for (const role of roles.values()) {
      const held = this.scope.view.roleDependencies(role.id);
      if (held.length > 0) {
        throw new SqlError(SqlState.dependentObjectsStillExist, `role "${role.name}" cannot be dropped because some objects depend on it`, {
          detail: held.join('\n'),
          hint: 'REASSIGN OWNED BY it TO another role (or DROP OWNED BY it), and REVOKE what it was granted, then drop it.',
        });
      }
    }
    if (roles.size === 0) return { kind: 'noop' };
    return { kind: 'drop_roles', roles: [...roles.values()] };
  }

  /** GRANT role TO member / REVOKE role FROM member: CREATEROLE (superuser for a superuser role); no cycles. */
  membership(stmt: Extract<AccessStatement, { kind: 'role_membership' }>): Plan {
    requireCreateRole(this.actor);
    const pairs: { role: RoleRecord; member: RoleRecord }[] = [];
    for (const roleName of stmt.roles) {
      const role = this.role(roleName);
      this.checkSystemRole(role, roleName);
      if (role.superuser) requireSuperuser(this.actor, `${stmt.grant ? 'grant' : 'revoke'} superuser role`);
      for (const memberName of stmt.members) {
        const member = this.role(memberName);
        this.checkSystemRole(member, memberName);
        const already = this.scope.view.isMemberOf(member.id, role.id);
        if (stmt.grant) {
          if (role.id === member.id || this.scope.view.isMemberOf(role.id, member.id)) {
            throw new SqlError(SqlState.invalidGrantOperation, `role "${member.name}" is a member of role "${role.name}"`, {
              position: memberName.pos,
              detail: 'Granting it would make a cycle of memberships.',
            });
          }
          if (already) this.scope.notices.push({ code: SqlState.successfulCompletion, message: `role "${member.name}" is already a member of role "${role.name}"` });
        } else if (!already) {
          this.scope.notices.push({ code: SqlState.warning, message: `role "${member.name}" is not a member of role "${role.name}"`, severity: 'WARNING' });
        }
        pairs.push({ role, member });
      }
    }
    return { kind: 'role_membership', grant: stmt.grant, pairs };
  }

  /**
   * REASSIGN OWNED BY r TO n: what the roles own, to `n` (membership in each of them and in `n`).
   * DROP OWNED BY r: what the roles own is dropped (with CASCADE, what depends on it too, which the
   * actor must own) and what they were granted revoked (membership in each).
   */
  owned(stmt: Extract<AccessStatement, { kind: 'owned' }>): Plan {
    const roles = stmt.roles.map((name) => {
      const role = this.role(name);
      this.checkSystemRole(role, name);
      requireMembership(this.actor, role.id, role.name);
      return role;
    });
    const owned = new Map(roles.flatMap((r) => this.scope.view.itemsOwnedBy(r.id)).map((i) => [i.id, i]));
    if (stmt.action === 'reassign') {
      const owner = this.role(stmt.to!);
      this.checkSystemRole(owner, stmt.to!);
      requireMembership(this.actor, owner.id, owner.name);
      return { kind: 'reassign_owned', items: [...owned.values()].filter((i) => i.ownerId !== owner.id), owner };
    }
    for (const item of [...owned.values()]) {
      for (const dependent of this.scope.view.dependents(item.id)) {
        if (owned.has(dependent.id)) continue;
        if (!stmt.cascade) {
          throw new SqlError(SqlState.dependentObjectsStillExist, `cannot drop ${item.kind} "${item.name}": still depended upon by ${dependent.kind} "${dependent.name}"`, {
            hint: `Drop ${dependent.kind} "${dependent.name}" first, or use DROP OWNED ... CASCADE to drop it too.`,
          });
        }
        this.scope.requireOwner(dependent);
        this.scope.notices.push({ code: SqlState.successfulCompletion, message: `drop cascades to ${dependent.kind} "${fullName(dependent.name)}"` });
        owned.set(dependent.id, dependent);
      }
    }
    return { kind: 'drop_owned', roles, items: [...owned.values()] };
  }

  // ---- privileges ----------------------------------------------------------------------

  /** GRANT/REVOKE privileges: the object's owner (or a superuser) grants; every grantor is the owner. */
  privileges(stmt: Extract<AccessStatement, { kind: 'privileges' }>): Plan {
    if (stmt.target.kind === 'system') return this.systemPrivileges(stmt);
    const grantees = stmt.grantees.map((g) => this.grantee(g));
    const objects = this.privilegeObjects(stmt.target);
    const changes: AclChange[] = [];
    for (const o of objects) {
      const letters = this.letters(stmt.privileges, o.type);
      for (const grantee of grantees) {
        const had = o.acl.find((e) => e.grantee === grantee)?.privileges ?? '';
        const now = stmt.grant ? sortLetters(had + letters) : [...had].filter((l) => !letters.includes(l)).join('');
        const changed = stmt.grant ? [...letters].filter((l) => !had.includes(l)).join('') : [...letters].filter((l) => had.includes(l)).join('');
        if (changed !== '') changes.push({ object: o.object, grantee, privileges: now, changed: sortLetters(changed) });
      }
    }
    return { kind: 'privileges', grant: stmt.grant, changes };
  }

  /**
   * GRANT/REVOKE CREATEROLE ON SYSTEM (Materialize's form of the CREATEROLE attribute): superusers
   * only, as in Materialize.
   */
  private systemPrivileges(stmt: Extract<AccessStatement, { kind: 'privileges' }>): Plan {
    requireSuperuser(this.actor, 'GRANT/REVOKE SYSTEM PRIVILEGES');
    const names = stmt.privileges.kind === 'all' ? ['createrole'] : stmt.privileges.names.map((n) => n.value.toLowerCase());
    const other = names.filter((n) => n !== 'createrole');
    if (other.length > 0) {
      throw new SqlError(SqlState.featureNotSupported, `system privileges ${other.map((n) => n.toUpperCase()).join(', ')} are not supported`, {
        position: stmt.target.pos,
        hint: 'The system privilege iamlink has is CREATEROLE.',
      });
    }
    const roles = stmt.grantees.map((g) => {
      if (g.kind === 'public') throw new SqlError(SqlState.featureNotSupported, 'system privileges are granted to roles, not PUBLIC', { position: g.pos });
      const role = this.role(g.name);
      this.checkSystemRole(role, g.name);
      return role;
    });
    return { kind: 'system_privileges', grant: stmt.grant, roles };
  }

  /** The objects of a GRANT/REVOKE, each checked for ownership. */
  private privilegeObjects(target: Exclude<Extract<AccessStatement, { kind: 'privileges' }>['target'], { kind: 'system' }>) {
    const out: { object: AclChange['object']; type: AclObjectType; acl: readonly { grantee: string; privileges: string }[] }[] = [];
    const addItem = (item: CatalogItem, pos?: number): void => {
      this.scope.requireOwner(item, pos);
      out.push({ object: { kind: 'item', item }, type: ITEM_TYPES[item.kind], acl: item.privileges });
    };
    if (target.kind === 'all_in_schema') {
      const kind: ItemKind = target.objectType === 'CONNECTIONS' ? 'connection' : 'secret';
      for (const schema of target.schemas) {
        const schemaId = this.schemaId(schema);
        for (const item of this.scope.view.itemsInSchema(schemaId, kind)) addItem(item, schema.pos);
      }
      return out;
    }
    for (const name of target.names) {
      switch (target.objectType) {
        case 'SECRET':
        case 'CONNECTION':
          addItem(this.scope.resolveItem(name, target.objectType === 'SECRET' ? 'secret' : 'connection'), name.pos);
          break;
        case 'SCHEMA': {
          const schemaId = this.schemaId(name);
          requireOwnership(this.actor, SYSTEM_ROLE_ID, PUBLIC_SCHEMA, name.pos);
          out.push({ object: { kind: 'schema', schemaId, ownerId: SYSTEM_ROLE_ID }, type: 'SCHEMA', acl: this.scope.view.schemaPrivileges(schemaId) });
          break;
        }
        default:
          throw new SqlError(SqlState.featureNotSupported, `GRANT and REVOKE on ${target.objectType} are not supported`, {
            position: target.pos,
            hint: 'iamlink grants privileges on CONNECTION, SECRET and SCHEMA; its system tables are readable by every role.',
          });
      }
    }
    return out;
  }

  /** ALTER ... OWNER TO: the owner, a member of the new owner, with CREATE in the schema. */
  alterOwner(stmt: Extract<AccessStatement, { kind: 'alter_owner' }>): Plan {
    const item = this.scope.resolveItemIfExists(stmt.name, stmt.objectType === 'SECRET' ? 'secret' : 'connection', stmt.ifExists);
    if (!item) return { kind: 'noop' };
    const owner = this.role(stmt.owner);
    this.checkSystemRole(owner, stmt.owner);
    this.scope.requireOwner(item, stmt.name.pos);
    requireMembership(this.actor, owner.id, owner.name);
    requirePrivilege(this.actor, this.scope.view.schemaPrivileges(item.schemaId), 'C', PUBLIC_SCHEMA, stmt.name.pos);
    if (owner.id === item.ownerId) return { kind: 'noop' };
    return { kind: 'alter_owner', item, owner };
  }

  /** ALTER DEFAULT PRIVILEGES: for oneself or a role one is a member of; FOR ALL ROLES: superuser. */
  defaultPrivileges(stmt: Extract<AccessStatement, { kind: 'alter_default_privileges' }>): Plan {
    const type = stmt.objectType.value;
    if (type !== 'connections' && type !== 'secrets') {
      throw new SqlError(SqlState.featureNotSupported, `default privileges on ${type.toUpperCase()} are not supported`, {
        position: stmt.objectType.pos,
        hint: 'iamlink holds CONNECTIONS and SECRETS.',
      });
    }
    const kind: ItemKind = type === 'connections' ? 'connection' : 'secret';
    let roleIds: string[];
    if (stmt.forRoles === 'all') {
      requireSuperuser(this.actor, 'ALTER DEFAULT PRIVILEGES FOR ALL ROLES');
      roleIds = [PUBLIC_ROLE_ID];
    } else if (stmt.forRoles === undefined) {
      roleIds = [this.actor.role.id];
    } else {
      roleIds = stmt.forRoles.map((name) => {
        const role = this.role(name);
        this.checkSystemRole(role, name);
        requireMembership(this.actor, role.id, role.name);
        return role.id;
      });
    }
    const schemaIds = stmt.schemas === undefined ? [null] : stmt.schemas.map((s) => this.schemaId(s));
    this.letters(stmt.privileges, ITEM_TYPES[kind]);
    const grantees = stmt.grantees.map((g) => this.grantee(g));
    const entries: DefaultPrivilege[] = [];
    for (const roleId of roleIds) for (const schemaId of schemaIds) for (const granteeId of grantees) entries.push({ roleId, schemaId, kind, granteeId });
    return { kind: 'default_privileges', grant: stmt.grant, entries };
  }

  // ---- helpers -------------------------------------------------------------------------

  /** Whether a superuser other than `roleId` can log in (someone must be able to administer). */
  private otherSuperuserLogin(roleId: string): boolean {
    return this.scope.view.roles().some((r) => r.id !== roleId && r.superuser && r.login && r.id !== SYSTEM_ROLE_ID);
  }

  /** Role attributes as written: each at most once, only those iamlink has. */
  private attributes(attributes: readonly RoleAttribute[]): { flags: Map<string, boolean>; password: Redacted<string> | null | undefined } {
    const flags = new Map<string, boolean>();
    let password: Redacted<string> | null | undefined;
    const seen = new Set<string>();
    for (const a of attributes) {
      const key = a.kind === 'flag' ? a.name : 'password';
      if (seen.has(key)) throw new SqlError(SqlState.syntaxError, 'conflicting or redundant options', { position: a.pos });
      seen.add(key);
      if (a.kind === 'password') {
        password = this.password(a);
        continue;
      }
      if (UNSUPPORTED_ATTRIBUTES.has(a.name)) {
        throw new SqlError(SqlState.featureNotSupported, `${a.name.toUpperCase()} attribute is not supported`, {
          position: a.pos,
          hint: 'iamlink roles have LOGIN, SUPERUSER, CREATEROLE, INHERIT and PASSWORD.',
        });
      }
      flags.set(a.name, a.value);
    }
    return { flags, password };
  }

  private password(a: Extract<RoleAttribute, { kind: 'password' }>): Redacted<string> | null {
    const v = a.value;
    if (v.kind === 'word' && v.value === 'null') return null;
    if (v.kind !== 'string') throw new SqlError(SqlState.invalidParameterValue, 'a password must be a string literal or NULL', { position: v.pos });
    if (v.value === '') throw new SqlError(SqlState.invalidParameterValue, 'empty password', { position: v.pos, hint: 'Give a password, or PASSWORD NULL for none.' });
    return new Redacted(v.value);
  }

  /** Privilege names → letters the object type can hold (ALL: every one). */
  private letters(privileges: PrivilegeList, type: AclObjectType): string {
    const allowed: string = PRIVILEGES_OF[type];
    if (privileges.kind === 'all') return allowed;
    const byName = new Map(Object.entries(PRIVILEGE_NAMES).map(([letter, name]) => [name.toLowerCase(), letter as PrivilegeLetter]));
    let letters = '';
    const invalid: string[] = [];
    for (const name of privileges.names) {
      const letter = byName.get(name.value.toLowerCase());
      const known = letter !== undefined || ['select', 'insert', 'update', 'delete', 'createrole', 'createdb', 'createcluster', 'createnetworkpolicy'].includes(name.value.toLowerCase());
      if (!known) throw new SqlError(SqlState.syntaxError, `unrecognized privilege type: "${name.value}"`, { position: name.pos });
      if (letter === undefined || !allowed.includes(letter)) invalid.push(name.value.toUpperCase());
      else letters += letter;
    }
    if (invalid.length > 0) {
      throw new SqlError(SqlState.invalidGrantOperation, `invalid privilege types ${invalid.join(', ')} for ${type}`, {
        position: privileges.names[0]!.pos,
        hint: `${type} takes ${[...allowed].map((l) => PRIVILEGE_NAMES[l as PrivilegeLetter]).join(', ')}.`,
      });
    }
    return sortLetters(letters);
  }

  private grantee(g: Grantee): string {
    if (g.kind === 'public') return PUBLIC_ROLE_ID;
    const role = this.role(g.name);
    this.checkSystemRole(role, g.name);
    return role.id;
  }

  private role(name: Ident): RoleRecord {
    const role = this.scope.view.roleByName(name.value);
    if (!role) throw new SqlError(SqlState.undefinedObject, `role "${name.value}" does not exist`, { position: name.pos });
    return role;
  }

  /** A user-made role name: not reserved (PUBLIC, mz_*, pg_*, ...), and one the engine keeps whole. */
  private checkReserved(name: Ident): void {
    if (RESERVED_ROLE_NAMES.test(name.value)) throw new SqlError(SqlState.reservedName, `role name "${name.value}" is reserved`, { position: name.pos });
    // PostgreSQL cuts names at 63 bytes: a longer one would be another role's engine role.
    if (Buffer.byteLength(name.value) > 63) throw new SqlError(SqlState.nameTooLong, 'role name is longer than 63 bytes', { position: name.pos });
  }

  /** mz_system is the system's own: not altered, dropped, granted or given objects. */
  private checkSystemRole(role: RoleRecord, name: Ident): void {
    if (role.id === SYSTEM_ROLE_ID) throw new SqlError(SqlState.reservedName, `role name "${role.name}" is reserved`, { position: name.pos });
  }

  /** The only schema privileges apply to is public; the system schemas are not users' to grant on. */
  private schemaId(name: ObjectName): string {
    const parts = name.parts.map((p) => p.value);
    const schemaId = this.scope.resolveSchema(parts, name.pos, 'create');
    if (schemaId === undefined) throw new SqlError(SqlState.insufficientPrivilege, `system schema '${parts.at(-1)}' cannot be modified`, { position: name.pos });
    return schemaId;
  }
}
