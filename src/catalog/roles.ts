/**
 * Roles in the catalog: their attributes and passwords, memberships, and who is acting. Each
 * catalog role has an engine role of the same name that client reads run as (a member of
 * iamlink_reader, nothing more), so that current_user and session_user name the client's roles;
 * what a read may see is decided by the role's id (iamlink.role_id), not by the engine role.
 * Granted memberships are given to the engine roles too, for the engine's SET ROLE.
 */
import { SqlError, SqlState } from '../errors.js';
import { quoteIdentAlways } from '../sql/printer.js';
import { PUBLIC_ROLE_ID, type Authority, type RoleRecord } from './model.js';
import type { Queryable } from './store.js';

export interface RoleAttributes {
  readonly login: boolean;
  readonly superuser: boolean;
  readonly createrole: boolean;
  readonly inherit: boolean;
}

interface RoleRow {
  id: string;
  name: string;
  login: boolean;
  superuser: boolean;
  createrole: boolean;
  inherit: boolean;
}

const ROLE_COLUMNS = 'r.id, r.name, r.login, r.superuser, r.createrole, r.inherit';

const toRole = (r: RoleRow): RoleRecord => ({ id: r.id, name: r.name, login: r.login, superuser: r.superuser, createrole: r.createrole, inherit: r.inherit });

/**
 * The CTE (for a WITH RECURSIVE list) of the roles a role (the query parameter `role` names) is a
 * member of, directly or not, and whether it inherits their privileges (it and every role between
 * inherit).
 */
export const authorityCte = (role: string): string => `up (id, inherited) AS (
         SELECT ${role}::text, true
         UNION
         SELECT m.role_id, up.inherited AND r.inherit
           FROM up JOIN iamlink_internal.role_members m ON m.member_id = up.id
           JOIN iamlink_internal.roles r ON r.id = up.id
       )`;

/** The columns (after authorityCte) that authorityOf reads. */
export const authorityColumns = (role: string): string => `(SELECT to_jsonb(r) FROM (SELECT ${ROLE_COLUMNS} FROM iamlink_internal.roles r WHERE r.id = ${role}) r) AS role,
              ARRAY(SELECT DISTINCT id FROM up WHERE inherited) AS held,
              ARRAY(SELECT DISTINCT id FROM up) AS member_of`;

export interface AuthorityRow {
  role: RoleRow | null;
  held: string[];
  member_of: string[];
}

/** The Authority of an authorityColumns row; undefined if the role no longer exists. */
export function authorityOf(row: AuthorityRow): Authority | undefined {
  if (!row.role) return undefined;
  return { role: toRole(row.role), held: new Set([...row.held, PUBLIC_ROLE_ID]), memberOf: new Set(row.member_of) };
}

export interface RolesOptions {
  /** The engine role client sessions log in as, granted each role (the shared store's). */
  readonly clientLoginRole?: string;
}

export class Roles {
  constructor(private readonly options: RolesOptions = {}) {}

  /** Every role but PUBLIC. */
  async all(tx: Queryable): Promise<RoleRecord[]> {
    const rows = await tx.query<RoleRow>(`SELECT ${ROLE_COLUMNS} FROM iamlink_internal.roles r WHERE r.id <> $1`, [PUBLIC_ROLE_ID]);
    return rows.map(toRole);
  }

  async byName(tx: Queryable, name: string): Promise<RoleRecord | undefined> {
    const rows = await tx.query<RoleRow>(`SELECT ${ROLE_COLUMNS} FROM iamlink_internal.roles r WHERE r.name = $1 AND r.id <> $2`, [name, PUBLIC_ROLE_ID]);
    return rows[0] && toRole(rows[0]);
  }

  /** Memberships as [role id, member id] pairs. */
  async memberships(tx: Queryable): Promise<[string, string][]> {
    const rows = await tx.query<{ role_id: string; member_id: string }>('SELECT role_id, member_id FROM iamlink_internal.role_members');
    return rows.map((r) => [r.role_id, r.member_id]);
  }

  /** The acting role's authority; undefined if the role no longer exists. */
  async authority(tx: Queryable, roleId: string): Promise<Authority | undefined> {
    const [row] = await tx.query<AuthorityRow>(`WITH RECURSIVE ${authorityCte('$1')} SELECT ${authorityColumns('$1')}`, [roleId]);
    return authorityOf(row!);
  }

  /**
   * Create a role and its engine role. Engine roles are the whole engine's (on a shared server,
   * other databases' too): a name held by an engine role that is not a plain member of
   * iamlink_reader is refused, never adopted.
   */
  async create(tx: Queryable, name: string, attributes: RoleAttributes, passwordVerifier: string | null): Promise<string> {
    const rows = await tx.query<{ id: string }>(
      `INSERT INTO iamlink_internal.roles (id, oid, name, login, superuser, createrole, inherit, password_verifier)
       VALUES ('u' || nextval('iamlink_internal.role_id_seq'), 30000 + currval('iamlink_internal.role_id_seq'), $1, $2, $3, $4, $5, $6) RETURNING id`,
      [name, attributes.login, attributes.superuser, attributes.createrole, attributes.inherit, passwordVerifier],
    );
    const quoted = quoteIdentAlways(name);
    const [engineRole] = await tx.query<{ plain: boolean }>(
      `SELECT NOT (r.rolsuper OR r.rolcanlogin OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls)
              AND pg_catalog.pg_has_role(r.oid, 'iamlink_reader', 'MEMBER') AS plain
         FROM pg_catalog.pg_roles r WHERE r.rolname = $1`,
      [name],
    );
    if (!engineRole) await tx.exec(`CREATE ROLE ${quoted} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT IN ROLE iamlink_reader`);
    else if (!engineRole.plain) {
      throw new SqlError(SqlState.reservedName, `role name "${name}" is reserved`, { detail: 'The catalog database has a role of that name with more rights than an iamlink role.' });
    }
    // Client sessions log in as one role and take each client's own for its reads (SET ROLE).
    if (this.options.clientLoginRole !== undefined) await tx.exec(`GRANT ${quoted} TO ${quoteIdentAlways(this.options.clientLoginRole)}, CURRENT_USER`);
    return rows[0]!.id;
  }

  /**
   * Every catalog role has its engine role, and the client login role (the shared store's) has
   * them all: a catalog copied from another database or server (a template, a restored dump) may
   * lack either.
   */
  async settleEngineRoles(tx: Queryable): Promise<void> {
    const roles = await tx.query<{ name: string; engine: boolean }>(
      `SELECT r.name, EXISTS (SELECT 1 FROM pg_catalog.pg_roles e WHERE e.rolname = r.name) AS engine
         FROM iamlink_internal.roles r WHERE r.id NOT IN ('p', 's1')`,
    );
    for (const { name } of roles.filter((r) => !r.engine)) {
      await tx.exec(`CREATE ROLE ${quoteIdentAlways(name)} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT IN ROLE iamlink_reader`);
    }
    const client = this.options.clientLoginRole;
    if (client === undefined) return;
    const missing = await tx.query<{ name: string }>(
      `SELECT r.name FROM iamlink_internal.roles r
        WHERE r.id NOT IN ('p', 's1') AND NOT pg_catalog.pg_has_role($1, r.name, 'MEMBER')`,
      [client],
    );
    for (const { name } of missing) await tx.exec(`GRANT ${quoteIdentAlways(name)} TO ${quoteIdentAlways(client)}, CURRENT_USER`);
  }

  /** The first superuser (Materialize's default user), made at the catalog's first start. */
  async ensureSuperuser(tx: Queryable, name: string): Promise<void> {
    if (await this.byName(tx, name)) return;
    await this.create(tx, name, { login: true, superuser: true, createrole: true, inherit: true }, null);
  }

  async setPasswordVerifier(tx: Queryable, id: string, verifier: string): Promise<void> {
    await tx.query('UPDATE iamlink_internal.roles SET password_verifier = $2 WHERE id = $1', [id, verifier]);
  }

  /** Change a role's attributes and (undefined: keep) its password verifier (null: none). */
  async alter(tx: Queryable, id: string, attributes: RoleAttributes, passwordVerifier: string | null | undefined): Promise<void> {
    await tx.query(
      `UPDATE iamlink_internal.roles SET login = $2, superuser = $3, createrole = $4, inherit = $5,
              password_verifier = CASE WHEN $6 THEN $7 ELSE password_verifier END
        WHERE id = $1`,
      [id, attributes.login, attributes.superuser, attributes.createrole, attributes.inherit, passwordVerifier !== undefined, passwordVerifier ?? null],
    );
  }

  /**
   * Drop a role: its memberships go with it (the engine refuses if it still owns an item or holds a
   * grant). Its engine role stays, for a role of the same name to take again: that one is another
   * role (another id), and sees only what it is granted.
   */
  async drop(tx: Queryable, role: RoleRecord): Promise<void> {
    await tx.query('DELETE FROM iamlink_internal.roles WHERE id = $1', [role.id]);
  }

  /** Set (or with null remove) a role's comment (COMMENT ON ROLE); dropping the role removes it too. */
  async setComment(tx: Queryable, id: string, comment: string | null): Promise<void> {
    if (comment === null) await tx.query('DELETE FROM iamlink_internal.role_comments WHERE role_id = $1', [id]);
    else {
      await tx.query(
        'INSERT INTO iamlink_internal.role_comments (role_id, comment) VALUES ($1, $2) ON CONFLICT (role_id) DO UPDATE SET comment = EXCLUDED.comment',
        [id, comment],
      );
    }
  }

  /** GRANT role TO member (mirrored in the engine); false if it was already granted. */
  async grant(tx: Queryable, role: RoleRecord, member: RoleRecord, grantorId: string): Promise<boolean> {
    const rows = await tx.query(
      'INSERT INTO iamlink_internal.role_members (role_id, member_id, grantor_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING role_id',
      [role.id, member.id, grantorId],
    );
    if (rows.length > 0) await this.engineMembership(tx, role.name, member.name);
    return rows.length > 0;
  }

  /**
   * REVOKE role FROM member; false if it was not granted. The engine membership stays: a session
   * that SET ROLE to the role before keeps it until RESET ROLE, as in PostgreSQL, and engine roles
   * all hold the same rights, so the engine membership gives nothing iamlink has not allowed.
   */
  async revoke(tx: Queryable, role: RoleRecord, member: RoleRecord): Promise<boolean> {
    const rows = await tx.query('DELETE FROM iamlink_internal.role_members WHERE role_id = $1 AND member_id = $2 RETURNING role_id', [role.id, member.id]);
    return rows.length > 0;
  }

  /** The engine's own membership, for its SET ROLE (session_user as the client's session user). */
  private async engineMembership(tx: Queryable, role: string, member: string): Promise<void> {
    const [held] = await tx.query<{ held: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members a WHERE a.roleid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
                         AND a.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2)) AS held`,
      [role, member],
    );
    if (!held!.held) await tx.exec(`GRANT ${quoteIdentAlways(role)} TO ${quoteIdentAlways(member)}`);
  }

  /** What a role still owns or holds, one line each (Materialize's DETAIL of a refused DROP ROLE). */
  async dependencies(tx: Queryable, role: RoleRecord): Promise<string[]> {
    const rows = await tx.query<{ line: string }>(
      `SELECT 'owner of ' || upper(i.kind) || ' "materialize.public.' || i.name || '"' AS line, 1 AS o, i.name AS n
         FROM iamlink_internal.items i WHERE i.owner_id = $1
       UNION ALL
       SELECT 'privileges granted on ' || upper(i.kind) || ' "materialize.public.' || i.name || '" to ' || $2, 2, i.name
         FROM iamlink_internal.item_privileges p JOIN iamlink_internal.items i ON i.id = p.item_id
        WHERE p.grantee_id = $1 AND i.owner_id <> $1
       UNION ALL
       SELECT 'privileges granted on SCHEMA "materialize.public" to ' || $2, 3, ''
         FROM iamlink_internal.schema_privileges p WHERE p.grantee_id = $1
       UNION ALL
       SELECT 'default privileges on ' || upper(d.object_type) || 'S ' ||
              CASE WHEN d.role_id = $1 THEN 'created by ' || $2 ELSE 'granted to ' || $2 END, 4, d.object_type
         FROM iamlink_internal.default_privileges d WHERE d.role_id = $1 OR d.grantee_id = $1
       ORDER BY 2, 3`,
      [role.id, role.name],
    );
    return [...new Set(rows.map((r) => `${role.name}: ${r.line}`))];
  }

  /** A login's stored SCRAM verifier; undefined if the role does not exist, cannot log in or has no password. */
  async passwordVerifier(tx: Queryable, name: string): Promise<string | undefined> {
    const rows = await tx.query<{ password_verifier: string | null }>(
      'SELECT password_verifier FROM iamlink_internal.roles WHERE name = $1 AND login AND id <> $2',
      [name, PUBLIC_ROLE_ID],
    );
    return rows[0]?.password_verifier ?? undefined;
  }

  /** Whether any role can log in with a password. */
  async anyPassword(tx: Queryable): Promise<boolean> {
    const rows = await tx.query('SELECT 1 FROM iamlink_internal.roles WHERE password_verifier IS NOT NULL AND login LIMIT 1');
    return rows.length > 0;
  }
}
