/**
 * The catalog service: loads the items a statement needs and writes items, secrets and
 * dependencies inside the caller's store transaction. The only writer of iamlink_internal
 * after migrations.
 */
import type { SecretCipher } from '../secrets/cipher.js';
import type { Redacted } from '../secrets/redacted.js';
import { PUBLIC_SCHEMA_ID, type AclEntry, type Authority, type AwsConnectionDef, type CatalogItem, type ItemKind, type StoredConnection } from './model.js';
import { authorityColumns, authorityCte, authorityOf, Roles, type AuthorityRow } from './roles.js';
import type { Queryable } from './store.js';
import { SqlError, SqlState } from '../errors.js';

interface ItemRow {
  id: string;
  oid: number;
  kind: ItemKind;
  schema_id: string;
  name: string;
  owner_id: string;
  definition: AwsConnectionDef | null;
  privileges: AclEntry[];
}

export interface ItemIds {
  readonly id: string;
  readonly oid: number;
}

const ITEM_COLUMNS = `i.id, i.oid, i.kind, i.schema_id, i.name, i.owner_id, i.definition,
  COALESCE((SELECT jsonb_agg(jsonb_build_object('grantee', p.grantee_id, 'privileges', p.privileges) ORDER BY p.grantee_id)
              FROM iamlink_internal.item_privileges p WHERE p.item_id = i.id), '[]'::jsonb) AS privileges`;

function toItem(r: ItemRow): CatalogItem {
  return { id: r.id, oid: r.oid, kind: r.kind, schemaId: r.schema_id, name: r.name, ownerId: r.owner_id, definition: r.definition ?? undefined, privileges: r.privileges };
}

/**
 * The condition of an item's INSERT ... SELECT that the schema has room for one more of the kind
 * under the limit (NULL: none); each argument names a query parameter. Fewer ids issued than the
 * limit settles it without counting (every item took an id); else the items are counted, up to the limit.
 */
function roomLeft(schema: string, kind: string, limit: string): string {
  return `(${limit}::integer IS NULL
           OR (SELECT last_value FROM iamlink_internal.item_id_seq) < ${limit}::integer
           OR (SELECT count(*) FROM (SELECT 1 FROM iamlink_internal.items
                WHERE schema_id = ${schema} AND kind = ${kind} LIMIT ${limit}::integer) n) < ${limit}::integer)`;
}

/**
 * A data-modifying CTE, after `item AS (INSERT ... RETURNING id)`, that gives the new item its ACL:
 * its owner's USAGE, and what the default privileges of its owner (or of all roles) for its kind,
 * in its schema or any, grant. Each argument names a query parameter.
 */
function initialAcl(owner: string, kind: string, schema: string): string {
  return `acl AS (
         INSERT INTO iamlink_internal.item_privileges (item_id, grantee_id, privileges)
         SELECT item.id, ${owner}, 'U' FROM item
         UNION
         SELECT item.id, d.grantee_id, d.privileges FROM item, iamlink_internal.default_privileges d
          WHERE d.role_id IN (${owner}, 'p') AND d.object_type = ${kind} AND (d.schema_id IS NULL OR d.schema_id = ${schema})
       )`;
}

/**
 * CTEs after a CTE `named` of item ids: the connections that depend on them (`conns`) and the
 * secrets those refer to (`wanted`: everything a plan about the named items may look at).
 */
const DEPENDENCY_CLOSURE = `conns AS (
         SELECT id FROM named
         UNION SELECT d.object_id FROM iamlink_internal.dependencies d JOIN named n ON d.referenced_object_id = n.id
       ), wanted AS (
         SELECT id FROM conns
         UNION SELECT d.referenced_object_id FROM iamlink_internal.dependencies d JOIN conns c ON d.object_id = c.id
       )`;

/** An audit event's object_type (Materialize's kebab-case names). */
export type AuditObjectType = ItemKind | 'role' | 'schema' | 'system';

/** The catalog breaks an invariant iamlink relies on: the server must not start on it. */
export class CatalogIntegrityError extends Error {}

export interface CatalogOptions {
  /** The engine role client sessions log in as, granted each login's role (the shared store's). */
  readonly clientLoginRole?: string;
  /** How many items of each kind one schema may hold (--max-connections-per-schema, --max-secrets-per-schema). */
  readonly maxPerSchema?: Readonly<Record<ItemKind, number>>;
}

export class Catalog {
  /** Roles, memberships and who is acting (catalog/roles.ts). */
  readonly roles: Roles;

  constructor(
    private readonly cipher: SecretCipher,
    private readonly options: CatalogOptions = {},
  ) {
    this.roles = new Roles(options);
  }

  /**
   * What planning a statement as role `roleId` reads, in one round trip: the items named (in the
   * public schema), the connections that depend on them and the secrets those connections refer
   * to (everything the planner may look at); who the role is (undefined if it no longer exists);
   * and the public schema's ACL.
   */
  async loadForPlanning(tx: Queryable, names: readonly string[], roleId: string): Promise<{ items: CatalogItem[]; actor: Authority | undefined; schemaAcl: AclEntry[] }> {
    const [row] = await tx.query<AuthorityRow & { items: ItemRow[]; schema_acl: AclEntry[] }>(
      `WITH RECURSIVE named AS (
         SELECT id FROM iamlink_internal.items WHERE schema_id = $1 AND name = ANY($2::text[])
       ), ${DEPENDENCY_CLOSURE}, ${authorityCte('$3')}
       SELECT (SELECT COALESCE(jsonb_agg(x), '[]'::jsonb) FROM (SELECT ${ITEM_COLUMNS} FROM iamlink_internal.items i JOIN wanted w ON w.id = i.id) x) AS items,
              ${authorityColumns('$3')},
              (SELECT COALESCE(jsonb_agg(jsonb_build_object('grantee', p.grantee_id, 'privileges', p.privileges) ORDER BY p.grantee_id), '[]'::jsonb)
                 FROM iamlink_internal.schema_privileges p WHERE p.schema_id = $1) AS schema_acl`,
      [PUBLIC_SCHEMA_ID, [...names], roleId],
    );
    return { items: row!.items.map(toItem), actor: authorityOf(row!), schemaAcl: row!.schema_acl };
  }

  /**
   * Take the next item id and oid from the counters and record the id (with the external id it
   * would carry) as issued. A failed CREATE burns them; never reused.
   */
  async allocateIds(tx: Queryable): Promise<ItemIds> {
    const rows = await tx.query<ItemIds>(
      `WITH ids AS (SELECT 'u' || nextval('iamlink_internal.item_id_seq') AS id, nextval('iamlink_internal.item_oid_seq')::integer AS oid),
            issued AS (INSERT INTO iamlink_internal.issued_ids (id, external_id) SELECT id, iamlink_internal.external_id_of(id) FROM ids)
       SELECT id, oid FROM ids`,
    );
    return rows[0]!;
  }

  /**
   * Insert a connection, its dependencies and its ACL in one statement, with the given preallocated
   * ids or fresh ones from the counters (the items trigger then records the id as issued); returns
   * the id. Refused (53400) if the schema holds its limit of connections.
   */
  async insertConnection(tx: Queryable, name: string, ownerId: string, connection: StoredConnection, ids?: ItemIds): Promise<string> {
    const rows = await tx.query<{ id: string }>(
      `WITH item AS (
         INSERT INTO iamlink_internal.items (id, oid, kind, schema_id, name, owner_id, definition, create_sql, redacted_create_sql)
         SELECT COALESCE($1, 'u' || nextval('iamlink_internal.item_id_seq')), COALESCE($2, nextval('iamlink_internal.item_oid_seq')::integer),
                $10, $3, $4, $5, $6, $7, $8
          WHERE ${roomLeft('$3', '$10', '$11')}
         RETURNING id
       ), deps AS (
         INSERT INTO iamlink_internal.dependencies (object_id, referenced_object_id)
         SELECT item.id, ref FROM item, unnest($9::text[]) AS ref
       ), ${initialAcl('$5', '$10', '$3')}
       SELECT id FROM item`,
      [
        ids?.id ?? null, ids?.oid ?? null, PUBLIC_SCHEMA_ID, name, ownerId, JSON.stringify(connection.definition), connection.createSql, connection.redactedCreateSql,
        [...connection.dependsOn], 'connection', this.options.maxPerSchema?.connection ?? null,
      ],
    );
    if (!rows[0]) throw await this.noRoom(tx, 'connection');
    return rows[0].id;
  }

  /**
   * Insert a secret with its encrypted value and its ACL in one statement. The ciphertext is bound
   * to the id, so the id is allocated first unless given. Refused (53400) if the schema holds its
   * limit of secrets.
   */
  async insertSecret(tx: Queryable, name: string, ownerId: string, value: Redacted<string>, ids?: ItemIds): Promise<string> {
    const { id, oid } = ids ?? (await this.allocateIds(tx));
    const sealed = this.cipher.seal(value, id);
    const rows = await tx.query<{ id: string }>(
      `WITH item AS (
         INSERT INTO iamlink_internal.items (id, oid, kind, schema_id, name, owner_id) SELECT $1, $2, $9, $3, $4, $5 WHERE ${roomLeft('$3', '$9', '$10')} RETURNING id
       ), sealed AS (
         INSERT INTO iamlink_internal.secrets (id, key_id, nonce, ciphertext) SELECT id, $6, $7, $8 FROM item
       ), ${initialAcl('$5', '$9', '$3')}
       SELECT id FROM item`,
      [id, oid, PUBLIC_SCHEMA_ID, name, ownerId, sealed.keyId, sealed.nonce, sealed.ciphertext, 'secret', this.options.maxPerSchema?.secret ?? null],
    );
    if (!rows[0]) throw await this.noRoom(tx, 'secret');
    return id;
  }

  /** The schema holds its limit of items of the kind (Materialize's wording). */
  private async noRoom(tx: Queryable, kind: ItemKind): Promise<SqlError> {
    const count = await this.countInSchema(tx, PUBLIC_SCHEMA_ID, kind);
    const limit = this.options.maxPerSchema?.[kind];
    const what = kind === 'connection' ? 'Connection' : 'Secret';
    return new SqlError(SqlState.configurationLimitExceeded, `${what} resource limit of ${limit} cannot be exceeded. Current amount is ${count} ${kind}s.`, {
      hint: `Drop ${kind}s that are no longer used, or ask the operator to raise --max-${kind}s-per-schema.`,
    });
  }

  /** The items of a kind in a schema (GRANT ... ON ALL CONNECTIONS IN SCHEMA). */
  async itemsInSchema(tx: Queryable, schemaId: string, kind: ItemKind): Promise<CatalogItem[]> {
    const rows = await tx.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM iamlink_internal.items i WHERE i.schema_id = $1 AND i.kind = $2 ORDER BY i.name`, [schemaId, kind]);
    return rows.map(toItem);
  }

  /**
   * The items the roles named own, the connections that depend on them and the secrets those
   * refer to (REASSIGN/DROP OWNED).
   */
  async itemsOwnedBy(tx: Queryable, roleNames: readonly string[]): Promise<CatalogItem[]> {
    const rows = await tx.query<ItemRow>(
      `WITH named AS (
         SELECT i.id FROM iamlink_internal.items i JOIN iamlink_internal.roles r ON r.id = i.owner_id WHERE r.name = ANY($1::text[])
       ), ${DEPENDENCY_CLOSURE}
       SELECT ${ITEM_COLUMNS} FROM iamlink_internal.items i JOIN wanted w ON w.id = i.id`,
      [[...roleNames]],
    );
    return rows.map(toItem);
  }

  /**
   * Revoke everything granted to a role: on items and schemas, and its default privileges (made
   * by it or for it). Returns the revoked grants, for the audit trail.
   */
  async revokeAllFrom(tx: Queryable, roleId: string): Promise<{ object_type: string; object_id: string; grantor_id: string; privileges: string }[]> {
    return tx.query(
      `WITH items AS (
         DELETE FROM iamlink_internal.item_privileges p USING iamlink_internal.items i
          WHERE p.item_id = i.id AND p.grantee_id = $1 RETURNING i.kind AS object_type, 'I' || i.id AS object_id, i.owner_id AS grantor_id, p.privileges
       ), schemas AS (
         DELETE FROM iamlink_internal.schema_privileges WHERE grantee_id = $1
         RETURNING 'schema' AS object_type, 'Su1.' || schema_id AS object_id, 's1' AS grantor_id, privileges
       ), defaults AS (
         DELETE FROM iamlink_internal.default_privileges WHERE role_id = $1 OR grantee_id = $1
       )
       SELECT * FROM items UNION ALL SELECT * FROM schemas`,
      [roleId],
    );
  }

  /** How many items of a kind a schema holds (for the message of a CREATE past its limit). */
  async countInSchema(tx: Queryable, schemaId: string, kind: ItemKind): Promise<number> {
    const [r] = await tx.query<{ n: string }>('SELECT count(*) AS n FROM iamlink_internal.items WHERE schema_id = $1 AND kind = $2', [schemaId, kind]);
    return Number(r!.n);
  }

  /** Set what `grantee` holds on an item or a schema (empty: nothing). */
  async setPrivileges(tx: Queryable, on: { readonly kind: 'item' | 'schema'; readonly id: string }, granteeId: string, privileges: string): Promise<void> {
    // Table and column names come from this fixed pair, never from input.
    const [table, column] = on.kind === 'item' ? ['item_privileges', 'item_id'] : ['schema_privileges', 'schema_id'];
    if (privileges === '') {
      await tx.query(`DELETE FROM iamlink_internal.${table} WHERE ${column} = $1 AND grantee_id = $2`, [on.id, granteeId]);
      return;
    }
    await tx.query(
      `INSERT INTO iamlink_internal.${table} (${column}, grantee_id, privileges) VALUES ($1, $2, $3)
       ON CONFLICT (${column}, grantee_id) DO UPDATE SET privileges = EXCLUDED.privileges`,
      [on.id, granteeId, privileges],
    );
  }

  /**
   * Give an item a new owner. As in Materialize, what the old owner held on it moves to the new
   * owner (merged with what that one held); grants to others stay, now granted by the new owner.
   */
  async alterOwner(tx: Queryable, itemId: string, oldOwnerId: string, newOwnerId: string): Promise<void> {
    await tx.query('UPDATE iamlink_internal.items SET owner_id = $2 WHERE id = $1', [itemId, newOwnerId]);
    await tx.query(
      `WITH gone AS (DELETE FROM iamlink_internal.item_privileges WHERE item_id = $1 AND grantee_id = $2 RETURNING privileges)
       INSERT INTO iamlink_internal.item_privileges (item_id, grantee_id, privileges)
       SELECT $1, $3, privileges FROM gone ON CONFLICT DO NOTHING`,
      [itemId, oldOwnerId, newOwnerId],
    );
  }

  /** Add (or with `grant` false remove) a default privilege. */
  async setDefaultPrivilege(tx: Queryable, grant: boolean, roleId: string, schemaId: string | null, kind: ItemKind, granteeId: string): Promise<void> {
    if (grant) {
      await tx.query(
        `INSERT INTO iamlink_internal.default_privileges (role_id, schema_id, object_type, grantee_id, privileges) VALUES ($1, $2, $3, $4, 'U')
         ON CONFLICT (role_id, COALESCE(schema_id, ''), object_type, grantee_id) DO NOTHING`,
        [roleId, schemaId, kind, granteeId],
      );
      return;
    }
    await tx.query(
      'DELETE FROM iamlink_internal.default_privileges WHERE role_id = $1 AND schema_id IS NOT DISTINCT FROM $2 AND object_type = $3 AND grantee_id = $4',
      [roleId, schemaId, kind, granteeId],
    );
  }

  /** Record one audit event (Materialize's mz_audit_events shapes), in the caller's transaction. */
  async recordEvent(tx: Queryable, eventType: 'create' | 'alter' | 'drop' | 'grant' | 'revoke' | 'comment', objectType: AuditObjectType, details: Record<string, unknown>, user: string): Promise<void> {
    await tx.query('INSERT INTO iamlink_internal.audit_events (event_type, object_type, details, "user") VALUES ($1, $2, $3, $4)', [eventType, objectType, JSON.stringify(details), user]);
  }

  /**
   * Record catalog events (Materialize's mz_audit_events shapes) for items by id, in the caller's
   * transaction: `create` after the insert, `drop` before the delete, `alter` and `comment` any time.
   */
  async recordEvents(tx: Queryable, eventType: 'create' | 'alter' | 'drop' | 'comment', ids: readonly string[], user: string): Promise<void> {
    if (ids.length === 0) return;
    await tx.query(
      `INSERT INTO iamlink_internal.audit_events (event_type, object_type, details, "user")
       SELECT $1, i.kind, jsonb_build_object('id', i.id, 'database', 'materialize', 'schema', 'public', 'item', i.name), $2
         FROM iamlink_internal.items i JOIN unnest($3::text[]) WITH ORDINALITY AS w(id, n) ON w.id = i.id
        ORDER BY w.n`,
      [eventType, user, [...ids]],
    );
  }

  /** Record a rename (before it happens: the previous name is read from the catalog). */
  async recordRename(tx: Queryable, id: string, newName: string, user: string): Promise<void> {
    await tx.query(
      `INSERT INTO iamlink_internal.audit_events (event_type, object_type, details, "user")
       SELECT 'alter', i.kind,
              jsonb_build_object('id', i.id,
                'previous_name', jsonb_build_object('database', 'materialize', 'schema', 'public', 'item', i.name),
                'new_name', jsonb_build_object('database', 'materialize', 'schema', 'public', 'item', $2::text)), $3
         FROM iamlink_internal.items i WHERE i.id = $1`,
      [id, newName, user],
    );
  }

  /**
   * Record a validation: its outcome and, when it failed, the SQLSTATE and what failed (the
   * error's message and detail name the hop and the AWS error code; never a secret).
   */
  async recordValidation(
    tx: Queryable,
    id: string,
    name: string | undefined,
    user: string,
    outcome: { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string; readonly detail?: string },
  ): Promise<void> {
    const failure = outcome.ok ? {} : { sqlstate: outcome.code, error: outcome.message, ...(outcome.detail ? { detail: outcome.detail } : {}) };
    await tx.query(
      `INSERT INTO iamlink_internal.audit_events (event_type, object_type, details, "user")
       SELECT 'validate', 'connection',
              jsonb_build_object('id', $1::text, 'database', 'materialize', 'schema', 'public',
                                 'item', COALESCE((SELECT name FROM iamlink_internal.items WHERE id = $1), $2::text),
                                 'outcome', $3::text) || $4::jsonb, $5`,
      [id, name ?? null, outcome.ok ? 'success' : 'failure', JSON.stringify(failure), user],
    );
  }

  async renameItem(tx: Queryable, id: string, newName: string): Promise<void> {
    await tx.query('UPDATE iamlink_internal.items SET name = $2 WHERE id = $1', [id, newName]);
  }

  async deleteItem(tx: Queryable, id: string): Promise<void> {
    await tx.query('DELETE FROM iamlink_internal.items WHERE id = $1', [id]);
  }

  /** Replace a connection's definition, rendered SQL and dependencies. */
  async updateConnection(tx: Queryable, id: string, connection: StoredConnection): Promise<void> {
    await tx.query('UPDATE iamlink_internal.items SET definition = $2, create_sql = $3, redacted_create_sql = $4 WHERE id = $1', [
      id,
      JSON.stringify(connection.definition),
      connection.createSql,
      connection.redactedCreateSql,
    ]);
    await tx.query(
      // One statement: drop the references no longer made, add the new ones (the kept ones stay).
      `WITH gone AS (
         DELETE FROM iamlink_internal.dependencies WHERE object_id = $1 AND referenced_object_id <> ALL ($2::text[])
       )
       INSERT INTO iamlink_internal.dependencies (object_id, referenced_object_id)
       SELECT $1, ref FROM unnest($2::text[]) AS ref ON CONFLICT DO NOTHING`,
      [id, [...connection.dependsOn]],
    );
  }

  /** Set an item's comment (COMMENT ON), or with null remove it; dropping the item removes it too. */
  async setComment(tx: Queryable, id: string, comment: string | null): Promise<void> {
    if (comment === null) {
      await tx.query('DELETE FROM iamlink_internal.comments WHERE id = $1', [id]);
      return;
    }
    await tx.query(
      'INSERT INTO iamlink_internal.comments (id, comment) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET comment = EXCLUDED.comment',
      [id, comment],
    );
  }

  /** Encrypt and store a secret's new value (bound to its id). */
  async updateSecret(tx: Queryable, id: string, value: Redacted<string>): Promise<void> {
    const sealed = this.cipher.seal(value, id);
    await tx.query('UPDATE iamlink_internal.secrets SET key_id = $2, nonce = $3, ciphertext = $4 WHERE id = $1', [id, sealed.keyId, sealed.nonce, sealed.ciphertext]);
  }

  /** Decrypt a secret's value: only for the AWS credential provider, at the moment of use. */
  async readSecret(tx: Queryable, id: string): Promise<Redacted<string> | undefined> {
    const rows = await tx.query<{ key_id: string; nonce: Uint8Array; ciphertext: Uint8Array }>(
      'SELECT key_id, nonce, ciphertext FROM iamlink_internal.secrets WHERE id = $1',
      [id],
    );
    const r = rows[0];
    if (!r) return undefined;
    return this.cipher.open({ keyId: r.key_id, nonce: Buffer.from(r.nonce), ciphertext: Buffer.from(r.ciphertext) }, id);
  }

  /**
   * Refuse to run on a catalog whose id counter is not ahead of every id ever issued: it would
   * hand out an id, and so an external id, a second time (a restored or tampered catalog).
   */
  async checkIdCounter(tx: Queryable): Promise<void> {
    const [r] = await tx.query<{ next: string; issued: string | null }>(
      `SELECT CASE WHEN s.is_called THEN s.last_value + 1 ELSE s.last_value END AS next,
              GREATEST((SELECT max(substr(id, 2)::bigint) FROM iamlink_internal.issued_ids WHERE id ~ '^u[0-9]+$'),
                       (SELECT max(substr(id, 2)::bigint) FROM iamlink_internal.items WHERE id ~ '^u[0-9]+$')) AS issued
         FROM iamlink_internal.item_id_seq s`,
    );
    if (r && r.issued !== null && BigInt(r.next) <= BigInt(r.issued)) {
      throw new CatalogIntegrityError(
        `the catalog's id counter would issue u${r.next} next, but ids up to u${r.issued} (and their external ids) were already issued; ` +
          'the catalog was restored inconsistently or tampered with. Refusing to start so that no external id is handed out twice: restore a consistent backup of the whole data directory',
      );
    }
  }

  /**
   * Refuse a secrets key that cannot open the catalog's secrets (every node sharing a catalog must
   * hold the same key); on first start, record the key's id.
   */
  async settleSecretsKey(tx: Queryable): Promise<void> {
    const keyId = this.cipher.keyId;
    const recorded = await this.getSetting(tx, 'secrets_key_id');
    const written = recorded !== undefined ? [recorded] : (await tx.query<{ key_id: string }>('SELECT DISTINCT key_id FROM iamlink_internal.secrets')).map((r) => r.key_id);
    const other = written.find((k) => k !== keyId);
    if (other !== undefined) {
      throw new CatalogIntegrityError(
        `the secrets key has key id ${keyId}, but the catalog's secrets were written with the key whose id is ${other}: this node could not read them. ` +
          'Start it with the same --secrets-key-file as the catalog\'s other nodes (or the one it was created with)',
      );
    }
    if (recorded === undefined) await this.putSetting(tx, 'secrets_key_id', keyId);
  }

  /**
   * The functions client queries may call: those the client role may execute in the engine, and
   * of the volatile ones only those granted to it by name (migrations/0002). The second rule
   * holds even where the catalog's role could not revoke EXECUTE from PUBLIC (a managed
   * PostgreSQL whose pg_catalog functions it does not own: REVOKE then only warns).
   */
  async clientFunctions(tx: Queryable): Promise<string[]> {
    const rows = await tx.query<{ proname: string }>(
      `SELECT DISTINCT p.proname FROM pg_catalog.pg_proc p
        WHERE p.pronamespace::regnamespace::text IN ('pg_catalog', 'mz_catalog', 'mz_internal', 'information_schema')
          AND pg_catalog.has_function_privilege('iamlink_reader', p.oid, 'EXECUTE')
          AND (p.provolatile <> 'v' OR EXISTS (
                SELECT 1 FROM pg_catalog.aclexplode(p.proacl) a
                 WHERE a.grantee = 'iamlink_reader'::regrole AND a.privilege_type = 'EXECUTE'))`,
    );
    return rows.map((r) => r.proname);
  }

  /** The functions of `clientFunctions` whose every overload is immutable. */
  async immutableFunctions(tx: Queryable): Promise<string[]> {
    const rows = await tx.query<{ proname: string }>(
      `SELECT p.proname FROM pg_catalog.pg_proc p
        WHERE p.pronamespace::regnamespace::text IN ('pg_catalog', 'mz_catalog', 'mz_internal', 'information_schema')
        GROUP BY p.proname HAVING bool_and(p.provolatile = 'i')`,
    );
    return rows.map((r) => r.proname);
  }

  /** Every type oid the engine knows. */
  async typeOids(tx: Queryable): Promise<Set<number>> {
    const rows = await tx.query<{ oid: number }>('SELECT oid::int8 AS oid FROM pg_catalog.pg_type');
    return new Set(rows.map((r) => Number(r.oid)));
  }

  // ---- settings ------------------------------------------------------------------------

  async getSetting(tx: Queryable, key: string): Promise<string | undefined> {
    const rows = await tx.query<{ value: string }>('SELECT value FROM iamlink_internal.config WHERE key = $1', [key]);
    return rows[0]?.value;
  }

  async putSetting(tx: Queryable, key: string, value: string | undefined): Promise<void> {
    if (value === undefined) {
      await tx.query('DELETE FROM iamlink_internal.config WHERE key = $1', [key]);
      return;
    }
    await tx.query('INSERT INTO iamlink_internal.config (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value]);
  }
}
