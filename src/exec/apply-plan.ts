/** Applying a DDL plan to the catalog inside the executor's store transaction. */
import type { Catalog, ItemIds } from '../catalog/catalog.js';
import type { Queryable } from '../catalog/store.js';
import type { Plan } from '../plan/plan.js';

/** Who applies a plan: the role that owns what it creates, and the login the audit trail names. */
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
    case 'drop': {
      // Connections first: they hold the references to secrets.
      const ordered = [...plan.items].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'connection' ? -1 : 1));
      await record('drop', ordered.map((i) => i.id));
      for (const item of ordered) await catalog.deleteItem(tx, item.id);
      return ordered.map((i) => i.id);
    }
    case 'comment':
      await catalog.setComment(tx, plan.id, plan.comment);
      await record('comment', [plan.id]);
      return [plan.id];
    case 'validate_connection':
    case 'query':
    case 'noop':
      return [];
  }
}
