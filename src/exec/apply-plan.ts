/** Applying a DDL plan to the catalog inside the executor's store transaction. */
import type { Catalog, ItemIds } from '../catalog/catalog.js';
import { PUBLIC_ROLE_ID, SYSTEM_ROLE_ID, type CatalogItem } from '../catalog/model.js';
import type { Queryable } from '../catalog/store.js';
import type { AclChange, Plan } from '../plan/plan.js';
import { storedVerifierOf } from '../secrets/scram-verifier.js';

/** Who applies a plan: the role that owns what it creates, and the session user the audit trail names. */
export interface Actor {
  readonly roleId: string;
  readonly user: string;
}

/**
 * Apply `plan` as `actor` (with `ids` if they were allocated ahead), and record it in the audit
 * trail in the same transaction. Returns the ids it touched.
 */
export async function applyPlan(catalog: Catalog, tx: Queryable, plan: Plan, actor: Actor, ids?: ItemIds): Promise<string[]> {
  const record = (event: 'create' | 'alter' | 'drop' | 'comment', touched: readonly string[]) => catalog.recordEvents(tx, event, touched, actor.user);
  switch (plan.kind) {
    case 'create_secret': {
      const id = await catalog.insertSecret(tx, plan.name, actor.roleId, plan.value, ids);
      await record('create', [id]);
      return [id];
    }
    case 'alter_secret':
      await catalog.updateSecret(tx, plan.id, plan.value);
      await record('alter', [plan.id]);
      return [plan.id];
    case 'create_connection': {
      const id = await catalog.insertConnection(tx, plan.name, actor.roleId, plan.connection, ids);
      await record('create', [id]);
      return [id];
    }
    case 'alter_connection':
      await catalog.updateConnection(tx, plan.id, plan.connection);
      await record('alter', [plan.id]);
      return [plan.id];
    case 'rename':
      await catalog.recordRename(tx, plan.id, plan.newName, actor.user);
      await catalog.renameItem(tx, plan.id, plan.newName);
      for (const r of plan.rerendered) await catalog.updateConnection(tx, r.id, r.connection);
      return [plan.id];
    case 'drop':
      return dropItems(catalog, tx, plan.items, actor);
    case 'comment':
      await catalog.setComment(tx, plan.id, plan.comment);
      await record('comment', [plan.id]);
      return [plan.id];
    case 'create_role': {
      const id = await catalog.roles.create(tx, plan.name, plan.attributes, plan.password === null ? null : storedVerifierOf(plan.password));
      await catalog.recordEvent(tx, 'create', 'role', { id, name: plan.name }, actor.user);
      return [id];
    }
    case 'alter_role':
      await catalog.roles.alter(tx, plan.role.id, plan.attributes, plan.password === undefined || plan.password === null ? plan.password : storedVerifierOf(plan.password));
      await catalog.recordEvent(tx, 'alter', 'role', { id: plan.role.id, name: plan.role.name }, actor.user);
      return [plan.role.id];
    case 'drop_roles':
      for (const role of plan.roles) {
        await catalog.recordEvent(tx, 'drop', 'role', { id: role.id, name: role.name }, actor.user);
        await catalog.roles.drop(tx, role);
      }
      return plan.roles.map((r) => r.id);
    case 'role_membership':
      for (const { role, member } of plan.pairs) {
        const changed = plan.grant ? await catalog.roles.grant(tx, role, member, SYSTEM_ROLE_ID) : await catalog.roles.revoke(tx, role, member);
        if (!changed) continue;
        const details = { role_id: role.id, member_id: member.id, grantor_id: SYSTEM_ROLE_ID, executed_by: actor.roleId };
        await catalog.recordEvent(tx, plan.grant ? 'grant' : 'revoke', 'role', details, actor.user);
      }
      return [];
    case 'privileges':
      for (const change of plan.changes) {
        await applyAclChange(catalog, tx, change);
        await catalog.recordEvent(tx, plan.grant ? 'grant' : 'revoke', change.object.kind === 'item' ? change.object.item.kind : 'schema', aclEventDetails(change), actor.user);
      }
      return [];
    case 'system_privileges':
      for (const role of plan.roles) {
        if (role.createrole === plan.grant) continue;
        await catalog.roles.alter(tx, role.id, { ...role, createrole: plan.grant }, undefined);
        const details = { object_id: 'SYSTEM', grantee_id: role.id, grantor_id: SYSTEM_ROLE_ID, privileges: 'R' };
        await catalog.recordEvent(tx, plan.grant ? 'grant' : 'revoke', 'system', details, actor.user);
      }
      return plan.roles.map((r) => r.id);
    case 'comment_role':
      await catalog.roles.setComment(tx, plan.role.id, plan.comment);
      await catalog.recordEvent(tx, 'comment', 'role', { id: plan.role.id, name: plan.role.name }, actor.user);
      return [plan.role.id];
    case 'reassign_owned':
      for (const item of plan.items) {
        await catalog.alterOwner(tx, item.id, item.ownerId, plan.owner.id);
        await catalog.recordEvent(tx, 'alter', item.kind, { object_id: `I${item.id}`, old_owner_id: item.ownerId, new_owner_id: plan.owner.id }, actor.user);
      }
      return plan.items.map((i) => i.id);
    case 'drop_owned': {
      const dropped = await dropItems(catalog, tx, plan.items, actor);
      for (const role of plan.roles) {
        for (const r of await catalog.revokeAllFrom(tx, role.id)) {
          const details = { object_id: r.object_id, grantee_id: role.id, grantor_id: r.grantor_id, privileges: r.privileges };
          await catalog.recordEvent(tx, 'revoke', r.object_type as 'connection' | 'secret' | 'schema', details, actor.user);
        }
      }
      return dropped;
    }
    case 'alter_owner':
      await catalog.alterOwner(tx, plan.item.id, plan.item.ownerId, plan.owner.id);
      await catalog.recordEvent(tx, 'alter', plan.item.kind, { object_id: `I${plan.item.id}`, old_owner_id: plan.item.ownerId, new_owner_id: plan.owner.id }, actor.user);
      return [plan.item.id];
    case 'default_privileges':
      for (const e of plan.entries) {
        await catalog.setDefaultPrivilege(tx, plan.grant, e.roleId, e.schemaId, e.kind, e.granteeId);
        const details = { role_id: e.roleId, database_id: e.schemaId === null ? null : 'u1', schema_id: e.schemaId, grantee_id: e.granteeId, privileges: 'U' };
        await catalog.recordEvent(tx, plan.grant ? 'grant' : 'revoke', e.kind, details, actor.user);
      }
      return [];
    case 'validate_connection':
    case 'query':
    case 'noop':
      return [];
  }
}

/** Drop items, connections first (they hold the references to secrets), each recorded before it goes. */
async function dropItems(catalog: Catalog, tx: Queryable, items: readonly CatalogItem[], actor: Actor): Promise<string[]> {
  const ordered = [...items].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'connection' ? -1 : 1));
  await catalog.recordEvents(tx, 'drop', ordered.map((i) => i.id), actor.user);
  for (const item of ordered) await catalog.deleteItem(tx, item.id);
  return ordered.map((i) => i.id);
}

async function applyAclChange(catalog: Catalog, tx: Queryable, change: AclChange): Promise<void> {
  const o = change.object;
  await catalog.setPrivileges(tx, o.kind === 'item' ? { kind: 'item', id: o.item.id } : { kind: 'schema', id: o.schemaId }, change.grantee, change.privileges);
}

/** Materialize's UpdatePrivilege details: object ids as `I<item>` or `S<database>.<schema>`. */
function aclEventDetails(change: AclChange): Record<string, string> {
  const o = change.object;
  return {
    object_id: o.kind === 'item' ? `I${o.item.id}` : `Su1.${o.schemaId}`,
    grantee_id: change.grantee === PUBLIC_ROLE_ID ? 'p' : change.grantee,
    grantor_id: o.kind === 'item' ? o.item.ownerId : o.ownerId,
    privileges: change.changed,
  };
}
