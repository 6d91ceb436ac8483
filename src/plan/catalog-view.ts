import { referencedSecretIds, type CatalogItem } from '../catalog/model.js';

/**
 * The read-only slice of the catalog the planner sees: the items a statement names, what
 * depends on them and what those refer to, loaded by the executor in the same transaction
 * that applies the plan.
 */
export interface CatalogView {
  itemByName(schemaId: string, name: string): CatalogItem | undefined;
  itemById(id: string): CatalogItem | undefined;
  /** Connections that refer to the item with this id. */
  dependents(id: string): CatalogItem[];
}

/** A CatalogView over a list of loaded items. */
export function catalogViewOf(items: readonly CatalogItem[]): CatalogView {
  const byId = new Map(items.map((i) => [i.id, i]));
  const byName = new Map(items.map((i) => [`${i.schemaId}\u0000${i.name}`, i]));
  return {
    itemByName: (schemaId, name) => byName.get(`${schemaId}\u0000${name}`),
    itemById: (id) => byId.get(id),
    dependents: (id) =>
      items.filter((i) => i.definition !== undefined && referencedSecretIds(i.definition).includes(id)),
  };
}
