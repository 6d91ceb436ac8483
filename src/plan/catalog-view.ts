import { referencedSecretIds, type AclEntry, type CatalogItem, type ItemKind, type RoleRecord } from '../catalog/model.js';

/**
 * The read-only slice of the catalog the planner sees: the items a statement names, what
 * depends on them and what those refer to, and (for statements about roles and privileges) the
 * roles, memberships and ACLs it needs, loaded by the executor in the same transaction that
 * applies the plan.
 */
export interface CatalogView {
  itemByName(schemaId: string, name: string): CatalogItem | undefined;
  itemById(id: string): CatalogItem | undefined;
  /** Connections that refer to the item with this id. */
  dependents(id: string): CatalogItem[];
  roleByName(name: string): RoleRecord | undefined;
  /** Every role loaded (all of them, for statements about roles). */
  roles(): readonly RoleRecord[];
  /** Whether `memberId` is a member of `roleId`, directly or through other roles. */
  isMemberOf(memberId: string, roleId: string): boolean;
  schemaPrivileges(schemaId: string): readonly AclEntry[];
  /** The loaded items of a kind in a schema (all of them are loaded for GRANT ... ON ALL ... IN SCHEMA). */
  itemsInSchema(schemaId: string, kind: ItemKind): readonly CatalogItem[];
  /** The items a role owns (loaded for REASSIGN/DROP OWNED). */
  itemsOwnedBy(roleId: string): readonly CatalogItem[];
  /** What a role owns or holds, one line each (loaded for DROP ROLE). */
  roleDependencies(roleId: string): readonly string[];
}

/** What the executor loaded beyond the named items. */
export interface AccessSlice {
  readonly roles?: readonly RoleRecord[];
  /** [role id, member id] pairs. */
  readonly memberships?: readonly (readonly [string, string])[];
  readonly schemaPrivileges?: ReadonlyMap<string, readonly AclEntry[]>;
  readonly roleDependencies?: ReadonlyMap<string, readonly string[]>;
}

/** A CatalogView over loaded items and access data. */
export function catalogViewOf(items: readonly CatalogItem[], access: AccessSlice = {}): CatalogView {
  const byId = new Map(items.map((i) => [i.id, i]));
  const byName = new Map(items.map((i) => [`${i.schemaId}\u0000${i.name}`, i]));
  const roles = new Map((access.roles ?? []).map((r) => [r.name, r]));
  const rolesOf = new Map<string, string[]>();
  for (const [role, member] of access.memberships ?? []) rolesOf.set(member, [...(rolesOf.get(member) ?? []), role]);
  return {
    itemByName: (schemaId, name) => byName.get(`${schemaId}\u0000${name}`),
    itemById: (id) => byId.get(id),
    dependents: (id) => items.filter((i) => i.definition !== undefined && referencedSecretIds(i.definition).includes(id)),
    roleByName: (name) => roles.get(name),
    roles: () => access.roles ?? [],
    isMemberOf: (memberId, roleId) => {
      const seen = new Set<string>();
      const queue = [memberId];
      while (queue.length > 0) {
        const next = queue.pop()!;
        for (const r of rolesOf.get(next) ?? []) {
          if (r === roleId) return true;
          if (!seen.has(r)) queue.push(r), seen.add(r);
        }
      }
      return false;
    },
    schemaPrivileges: (schemaId) => access.schemaPrivileges?.get(schemaId) ?? [],
    itemsInSchema: (schemaId, kind) => items.filter((i) => i.schemaId === schemaId && i.kind === kind),
    roleDependencies: (roleId) => access.roleDependencies?.get(roleId) ?? [],
    itemsOwnedBy: (roleId) => items.filter((i) => i.ownerId === roleId),
  };
}
