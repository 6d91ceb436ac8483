/** Applying a DDL plan to the catalog inside the executor's store transaction. */
import type { Catalog, ItemIds } from '../catalog/catalog.js';
import type { Queryable } from '../catalog/store.js';
import type { Plan } from '../plan/plan.js';

/** Apply `plan`; `ownerId` owns anything created (with `ids` if they were allocated ahead). Returns the ids it touched. */
export async function applyPlan(catalog: Catalog, tx: Queryable, plan: Plan, ownerId: string, ids?: ItemIds): Promise<string[]> {
  switch (plan.kind) {
    case 'create_secret': {
      return [await catalog.insertSecret(tx, plan.name, ownerId, plan.value, ids)];
    }
    case 'alter_secret':
      await catalog.updateSecret(tx, plan.id, plan.value);
      return [plan.id];
    case 'create_connection': {
      return [await catalog.insertConnection(tx, plan.name, ownerId, plan.connection, ids)];
    }
    case 'alter_connection':
      await catalog.updateConnection(tx, plan.id, plan.connection);
      return [plan.id];
    case 'rename':
      await catalog.renameItem(tx, plan.id, plan.newName);
      for (const r of plan.rerendered) await catalog.updateConnection(tx, r.id, r.connection);
      return [plan.id];
    case 'drop': {
      // Connections first: they hold the references to secrets.
      const ordered = [...plan.items].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'connection' ? -1 : 1));
      for (const item of ordered) await catalog.deleteItem(tx, item.id);
      return ordered.map((i) => i.id);
    }
    case 'comment':
      await catalog.setComment(tx, plan.id, plan.comment);
      return [plan.id];
    case 'validate_connection':
    case 'query':
    case 'noop':
      return [];
  }
}
