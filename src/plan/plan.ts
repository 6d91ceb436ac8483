/** What the planner decides a statement does; the executor applies it. */
import type { AwsConnectionDef, CatalogItem, ItemKind, RoleRecord, StoredConnection } from '../catalog/model.js';
import type { ObjectType } from '../sql/ast.js';
import type { Redacted } from '../secrets/redacted.js';

/** A NOTICE to send the client before the command completes. */
export interface Notice {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  /** NOTICE unless said otherwise. */
  readonly severity?: 'NOTICE' | 'WARNING';
}

/** A connection as it will be stored: definition plus its rendered SQL. */
export type PlannedConnection = StoredConnection;

/** Role attributes as planned (every one decided). */
export interface PlannedRoleAttributes {
  readonly login: boolean;
  readonly superuser: boolean;
  readonly createrole: boolean;
  readonly inherit: boolean;
}

/** One ACL entry to set: what `grantee` will hold on the object (letters; '' none), and what changed. */
export interface AclChange {
  readonly object: { readonly kind: 'item'; readonly item: CatalogItem } | { readonly kind: 'schema'; readonly schemaId: string; readonly ownerId: string };
  readonly grantee: string;
  readonly privileges: string;
  readonly changed: string;
}

/** One default privilege to add or remove. */
export interface DefaultPrivilege {
  readonly roleId: string;
  readonly schemaId: string | null;
  readonly kind: ItemKind;
  readonly granteeId: string;
}

export type Plan =
  | { readonly kind: 'create_secret'; readonly name: string; readonly value: Redacted<string> }
  | { readonly kind: 'alter_secret'; readonly id: string; readonly value: Redacted<string> }
  | { readonly kind: 'create_connection'; readonly name: string; readonly connection: PlannedConnection; readonly validate: boolean }
  | { readonly kind: 'alter_connection'; readonly id: string; readonly connection: PlannedConnection; readonly validate: boolean }
  | {
      readonly kind: 'rename';
      readonly objectType: ObjectType;
      readonly id: string;
      readonly newName: string;
      /** Connections whose create_sql names the renamed item, rendered anew. */
      readonly rerendered: readonly { readonly id: string; readonly connection: PlannedConnection }[];
    }
  | { readonly kind: 'drop'; readonly items: readonly CatalogItem[] }
  | { readonly kind: 'validate_connection'; readonly id: string; readonly definition: AwsConnectionDef }
  /** Set (or with null remove) the comment on an item: COMMENT ON. */
  | { readonly kind: 'comment'; readonly id: string; readonly comment: string | null }
  /**
   * A read query the engine answers (SHOW ...). `filter` locates a user's WHERE expression in
   * `sql`: the executor passes such a query through the read-only gate first.
   */
  | { readonly kind: 'query'; readonly sql: string; readonly filter?: { readonly offset: number; readonly length: number; readonly pos: number } }
  /** password: a SCRAM verifier is made from it at apply time (null: none; undefined: unchanged). */
  | { readonly kind: 'create_role'; readonly name: string; readonly attributes: PlannedRoleAttributes; readonly password: Redacted<string> | null }
  | { readonly kind: 'alter_role'; readonly role: RoleRecord; readonly attributes: PlannedRoleAttributes; readonly password: Redacted<string> | null | undefined }
  | { readonly kind: 'drop_roles'; readonly roles: readonly RoleRecord[] }
  | { readonly kind: 'comment_role'; readonly role: RoleRecord; readonly comment: string | null }
  /** REASSIGN OWNED: these items get `owner` (as ALTER ... OWNER TO each). */
  | { readonly kind: 'reassign_owned'; readonly items: readonly CatalogItem[]; readonly owner: RoleRecord }
  /** DROP OWNED: these items are dropped, and every privilege granted to the roles (and their default privileges) revoked. */
  | { readonly kind: 'drop_owned'; readonly roles: readonly RoleRecord[]; readonly items: readonly CatalogItem[] }
  | { readonly kind: 'role_membership'; readonly grant: boolean; readonly pairs: readonly { readonly role: RoleRecord; readonly member: RoleRecord }[] }
  | { readonly kind: 'privileges'; readonly grant: boolean; readonly changes: readonly AclChange[] }
  | { readonly kind: 'alter_owner'; readonly item: CatalogItem; readonly owner: RoleRecord }
  /** GRANT/REVOKE CREATEROLE ON SYSTEM: the roles' CREATEROLE attribute. */
  | { readonly kind: 'system_privileges'; readonly grant: boolean; readonly roles: readonly RoleRecord[] }
  | { readonly kind: 'default_privileges'; readonly grant: boolean; readonly entries: readonly DefaultPrivilege[] }
  /** Nothing to do (IF [NOT] EXISTS hit); the notices say why. */
  | { readonly kind: 'noop' };

export interface Planned {
  readonly plan: Plan;
  readonly notices: readonly Notice[];
  /** The command tag for CommandComplete, e.g. CREATE CONNECTION. */
  readonly tag: string;
}
