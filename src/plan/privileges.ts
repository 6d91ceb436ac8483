/**
 * Who may do what (Materialize's model, docs/privileges.md): privilege checks against ACLs,
 * ownership, role attributes and membership, each failing with Materialize's wording and 42501.
 * Superusers pass every check. Owning an object gives no privilege on it by itself: the owner's
 * USAGE is the ACL entry it gets at creation.
 */
import { DATABASE_NAME, PUBLIC_SCHEMA_NAME, type AclEntry, type Authority } from '../catalog/model.js';
import { SqlError, SqlState } from '../errors.js';

/** Materialize's privilege letters and their names, in its order. */
export const PRIVILEGE_NAMES = { U: 'USAGE', C: 'CREATE' } as const;
export type PrivilegeLetter = keyof typeof PRIVILEGE_NAMES;

/** What each kind of object can hold; ALL PRIVILEGES means these. */
export const PRIVILEGES_OF = { CONNECTION: 'U', SECRET: 'U', SCHEMA: 'UC' } as const;
export type AclObjectType = keyof typeof PRIVILEGES_OF;

/** An object as messages name it: `CONNECTION "materialize.public.c"` quoted, `... materialize.public.c` not. */
export interface NamedObject {
  readonly type: AclObjectType;
  readonly fullName: string;
}

export const PUBLIC_SCHEMA: NamedObject = { type: 'SCHEMA', fullName: `${DATABASE_NAME}.${PUBLIC_SCHEMA_NAME}` };

/** Whether the actor holds `letter` through an ACL (its own entries, those of roles it inherits, PUBLIC's). */
export function holds(actor: Authority, acl: readonly AclEntry[], letter: PrivilegeLetter): boolean {
  return actor.role.superuser || acl.some((e) => actor.held.has(e.grantee) && e.privileges.includes(letter));
}

/** Whether the actor owns something owned by `ownerId` (itself or a role whose privileges it inherits). */
export function owns(actor: Authority, ownerId: string): boolean {
  return actor.role.superuser || actor.held.has(ownerId);
}

export function requirePrivilege(actor: Authority, acl: readonly AclEntry[], letter: PrivilegeLetter, object: NamedObject, pos?: number): void {
  if (holds(actor, acl, letter)) return;
  throw new SqlError(SqlState.insufficientPrivilege, `permission denied for ${object.type} "${object.fullName}"`, {
    detail: `The '${actor.role.name}' role needs ${PRIVILEGE_NAMES[letter]} privileges on ${object.type} "${object.fullName}"`,
    position: pos,
  });
}

export function requireOwnership(actor: Authority, ownerId: string, object: NamedObject, pos?: number): void {
  if (owns(actor, ownerId)) return;
  throw new SqlError(SqlState.insufficientPrivilege, `must be owner of ${object.type} ${object.fullName}`, { position: pos });
}

/** CREATE/ALTER/DROP ROLE and role membership: the CREATEROLE attribute (Materialize: a system privilege). */
export function requireCreateRole(actor: Authority): void {
  if (actor.role.superuser || actor.role.createrole) return;
  throw new SqlError(SqlState.insufficientPrivilege, 'permission denied for SYSTEM', {
    detail: `The '${actor.role.name}' role needs CREATEROLE privileges on SYSTEM`,
  });
}

/** Something only a superuser may do, e.g. `create superuser role`. */
export function requireSuperuser(actor: Authority, action: string): void {
  if (actor.role.superuser) return;
  throw new SqlError(SqlState.insufficientPrivilege, `permission denied to ${action}`, { detail: `You must be a superuser to ${action}` });
}

/** Acting as another role (ALTER ... OWNER TO it, its default privileges): being a member of it. */
export function requireMembership(actor: Authority, roleId: string, roleName: string): void {
  if (actor.role.superuser || actor.memberOf.has(roleId)) return;
  throw new SqlError(SqlState.insufficientPrivilege, `must be a member of "${roleName}"`);
}

/** An ACL's letters in Materialize's order. */
export function sortLetters(letters: string): string {
  return (Object.keys(PRIVILEGE_NAMES) as PrivilegeLetter[]).filter((l) => letters.includes(l)).join('');
}
