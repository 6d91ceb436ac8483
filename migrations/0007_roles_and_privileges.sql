-- iamlink catalog, version 7: roles and privileges (Materialize's model, docs/privileges.md).
-- Roles have attributes and members; connections, secrets and the public schema have owners and
-- ACLs; default privileges give new objects their grants. The checks are iamlink's (plan/privileges.ts);
-- these tables keep them honest: a grant to a role that does not exist, a member that is its own
-- role, an owner that is dropped while it owns something, or a privilege an object cannot hold are
-- refused by the engine too.

-- 1. Role attributes. Every role before this version was made at first login: it keeps LOGIN.
ALTER TABLE iamlink_internal.roles
  ADD COLUMN login      boolean NOT NULL DEFAULT true,
  ADD COLUMN superuser  boolean NOT NULL DEFAULT false,
  ADD COLUMN createrole boolean NOT NULL DEFAULT false,
  ADD COLUMN inherit    boolean NOT NULL DEFAULT true;
ALTER TABLE iamlink_internal.roles ALTER COLUMN login SET DEFAULT false;
-- Materialize's default user is the first superuser.
UPDATE iamlink_internal.roles SET superuser = true, createrole = true WHERE name = 'materialize';

-- Materialize's system role (the owner of the system schemas) and PUBLIC, the role every role is
-- a member of. Neither can log in; PUBLIC is not listed in mz_roles.
INSERT INTO iamlink_internal.roles (id, oid, name, login, superuser, createrole, inherit) VALUES
  ('s1', 16390, 'mz_system', false, true, true, true),
  ('p', 16391, 'PUBLIC', false, false, false, true);

-- Every owner and grantee is a role; a role that owns something or holds a grant cannot be dropped (NOT VALID: rows from
-- before this version are not re-checked, new ones are).
ALTER TABLE iamlink_internal.items
  ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES iamlink_internal.roles (id) NOT VALID;

-- 2. Membership: member_id is a member of role_id (GRANT role_id TO member_id).
CREATE TABLE iamlink_internal.role_members (
  role_id    text NOT NULL REFERENCES iamlink_internal.roles (id) ON DELETE CASCADE,
  member_id  text NOT NULL REFERENCES iamlink_internal.roles (id) ON DELETE CASCADE,
  grantor_id text NOT NULL,
  PRIMARY KEY (role_id, member_id),
  CHECK (role_id <> member_id AND role_id NOT IN ('p', 's1') AND member_id NOT IN ('p', 's1'))
);
CREATE INDEX role_members_member_idx ON iamlink_internal.role_members (member_id);

-- 3. ACLs. The grantor of every grant is the object's owner (as in Materialize), so it is not
-- stored: the views render it from the owner. Connections and secrets hold USAGE (U); schemas
-- USAGE and CREATE (C).
CREATE TABLE iamlink_internal.item_privileges (
  item_id    text NOT NULL REFERENCES iamlink_internal.items (id) ON DELETE CASCADE,
  grantee_id text NOT NULL REFERENCES iamlink_internal.roles (id),
  privileges text NOT NULL CHECK (privileges = 'U'),
  PRIMARY KEY (item_id, grantee_id)
);

CREATE TABLE iamlink_internal.schema_privileges (
  schema_id  text NOT NULL,
  grantee_id text NOT NULL REFERENCES iamlink_internal.roles (id),
  privileges text NOT NULL CHECK (privileges IN ('U', 'C', 'UC')),
  PRIMARY KEY (schema_id, grantee_id)
);
-- Materialize's defaults for materialize.public: its owner holds everything, PUBLIC may use it.
-- CREATE in it must be granted.
INSERT INTO iamlink_internal.schema_privileges (schema_id, grantee_id, privileges) VALUES ('u3', 's1', 'UC'), ('u3', 'p', 'U');

-- Every existing item: its owner's USAGE, as a new item gets.
INSERT INTO iamlink_internal.item_privileges (item_id, grantee_id, privileges)
SELECT i.id, i.owner_id, 'U' FROM iamlink_internal.items i
 WHERE EXISTS (SELECT 1 FROM iamlink_internal.roles r WHERE r.id = i.owner_id);

-- 4. Default privileges: what a new connection or secret created by role_id ('p': by anyone) in
-- schema_id (NULL: in any schema) grants to grantee_id.
CREATE TABLE iamlink_internal.default_privileges (
  role_id     text NOT NULL REFERENCES iamlink_internal.roles (id),
  schema_id   text,
  object_type text NOT NULL CHECK (object_type IN ('connection', 'secret')),
  grantee_id  text NOT NULL REFERENCES iamlink_internal.roles (id),
  privileges  text NOT NULL CHECK (privileges = 'U')
);
CREATE UNIQUE INDEX default_privileges_key ON iamlink_internal.default_privileges (role_id, COALESCE(schema_id, ''), object_type, grantee_id);

-- 5. Who is asking. iamlink sets iamlink.role_id, the id of the client's current role, for every
-- client read (the client cannot: unknown settings and set_config are refused, and the engine
-- session is checked after every read). By id, not by the engine role's name: a role dropped and
-- made again under the same name is another role. The roles whose privileges it holds: itself,
-- those it inherits from, PUBLIC.
CREATE VIEW iamlink_internal.current_roles (id) AS
  WITH RECURSIVE held (id, inherit) AS (
    SELECT r.id, r.inherit FROM iamlink_internal.roles r
     WHERE r.id = pg_catalog.current_setting('iamlink.role_id', true) AND r.id NOT IN ('p', 's1')
    UNION
    SELECT g.id, g.inherit
      FROM held h
      JOIN iamlink_internal.role_members m ON m.member_id = h.id AND h.inherit
      JOIN iamlink_internal.roles g ON g.id = m.role_id
  )
  SELECT id FROM held UNION SELECT 'p';

-- Whether the reader sees every item: a superuser's read, or a session that may read the catalog's
-- tables themselves (the engine's superuser, the catalog's owner), which hides nothing by reading a view.
CREATE VIEW iamlink_internal.sees_everything (yes) AS
  SELECT EXISTS (SELECT 1 FROM iamlink_internal.roles s
                  WHERE s.id = pg_catalog.current_setting('iamlink.role_id', true) AND s.superuser AND s.id NOT IN ('p', 's1'))
         OR pg_catalog.has_table_privilege('iamlink_internal.items'::regclass, 'SELECT');

-- Whether the ACL of an item grants USAGE to the reader's role, a role it inherits from, or PUBLIC.
-- A function, not an expression in the view: called only for a reader that does not see
-- everything, and its plan is not part of every lookup's (measured: it halves a lookup's engine
-- time on a 100,000-connection catalog). It reads the catalog's tables as their owner, and says
-- nothing but that about the reader's own role.
CREATE FUNCTION iamlink_internal.granted_usage(item text) RETURNS boolean
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM iamlink_internal.item_privileges p
                  WHERE p.item_id = item AND p.grantee_id IN (SELECT id FROM iamlink_internal.current_roles));
END
$$;
REVOKE EXECUTE ON FUNCTION iamlink_internal.granted_usage(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION iamlink_internal.granted_usage(text) TO iamlink_reader;

-- An item the current role may use: any, for one that sees everything; else one whose ACL grants
-- it USAGE. As in Materialize, owning an item gives no privilege on it: the owner's USAGE is the
-- ACL entry it gets at creation (and may revoke). One rule for every view. `usable` is worked out
-- once per row (OFFSET 0 keeps the planner from copying it into every column that tests it).
CREATE VIEW iamlink_internal.visible_items (id, oid, kind, schema_id, name, owner_id, definition, create_sql, redacted_create_sql, privileges, usable) AS
  SELECT i.id, i.oid, i.kind, i.schema_id, i.name, i.owner_id, i.definition, i.create_sql, i.redacted_create_sql,
         ARRAY(SELECT CASE p.grantee_id WHEN 'p' THEN '' ELSE p.grantee_id END || '=' || p.privileges || '/' || i.owner_id
                 FROM iamlink_internal.item_privileges p WHERE p.item_id = i.id
                ORDER BY p.grantee_id <> i.owner_id, p.grantee_id = 'p', p.grantee_id),
         u.usable
    FROM iamlink_internal.items i
    CROSS JOIN LATERAL (
      SELECT (SELECT yes FROM iamlink_internal.sees_everything) OR iamlink_internal.granted_usage(i.id) AS usable OFFSET 0
    ) u;

-- 6. The system views with real owners and ACLs. create_sql may hold a literal SESSION TOKEN: only
-- for those who may use the connection (redacted_create_sql is for everyone).
CREATE OR REPLACE VIEW mz_catalog.mz_connections
  (id, oid, schema_id, name, type, owner_id, privileges, create_sql, redacted_create_sql) AS
  SELECT id, oid::oid, schema_id, name, 'aws'::text, owner_id, privileges,
         CASE WHEN usable THEN create_sql END, redacted_create_sql
    FROM iamlink_internal.visible_items
   WHERE kind = 'connection';

CREATE OR REPLACE VIEW mz_catalog.mz_secrets (id, oid, schema_id, name, owner_id, privileges) AS
  SELECT id, oid::oid, schema_id, name, owner_id, privileges
    FROM iamlink_internal.visible_items
   WHERE kind = 'secret';

CREATE OR REPLACE VIEW mz_catalog.mz_schemas (id, oid, database_id, name, owner_id, privileges) AS
  VALUES ('s1'::text, 16385::oid, NULL::text, 'mz_catalog'::text, 's1'::text, ARRAY['=U/s1', 's1=UC/s1']::text[]),
         ('s2', 16386, NULL, 'pg_catalog', 's1', ARRAY['=U/s1', 's1=UC/s1']),
         ('s3', 16387, NULL, 'mz_internal', 's1', ARRAY['=U/s1', 's1=UC/s1']),
         ('s4', 16388, NULL, 'information_schema', 's1', ARRAY['=U/s1', 's1=UC/s1'])
  UNION ALL
  SELECT 'u3', 16389, 'u1', 'public', 's1',
         ARRAY(SELECT CASE p.grantee_id WHEN 'p' THEN '' ELSE p.grantee_id END || '=' || p.privileges || '/s1'
                 FROM iamlink_internal.schema_privileges p WHERE p.schema_id = 'u3'
                ORDER BY p.grantee_id <> 's1', p.grantee_id = 'p', p.grantee_id);

CREATE OR REPLACE VIEW mz_catalog.mz_databases (id, oid, name, owner_id, privileges) AS
  VALUES ('u1'::text, 16384::oid, 'materialize'::text, 's1'::text, ARRAY['=U/s1', 's1=UC/s1']::text[]);

-- Materialize's columns. CREATEROLE is, as in Materialize, shown as a system privilege (R) in
-- mz_system_privileges, granted by mz_system.
CREATE OR REPLACE VIEW mz_catalog.mz_roles (id, oid, name, inherit, rolcanlogin, rolsuper) AS
  SELECT id, oid::oid, name, inherit, login, superuser FROM iamlink_internal.roles WHERE id <> 'p';

CREATE VIEW mz_catalog.mz_system_privileges (privileges) AS
  SELECT id || '=R/s1' FROM iamlink_internal.roles WHERE createrole AND id NOT IN ('p', 's1');

CREATE VIEW mz_catalog.mz_role_members (role_id, member, grantor) AS
  SELECT role_id, member_id, grantor_id FROM iamlink_internal.role_members;

CREATE VIEW mz_catalog.mz_default_privileges (role_id, database_id, schema_id, object_type, grantee, privileges) AS
  SELECT role_id, CASE WHEN schema_id IS NOT NULL THEN 'u1' END, schema_id, upper(object_type), grantee_id, privileges
    FROM iamlink_internal.default_privileges;

-- mz_aws_connections: the rows of connections the current role may use (docs/privileges.md). Every
-- column is also guarded by `usable` itself, not only the row by the WHERE: the engine may apply a
-- client's own condition (say a cast that fails and quotes the value) to a row before this view's
-- filter, and it must then see NULL.
CREATE OR REPLACE VIEW mz_internal.mz_aws_connections
  (id, endpoint, region, access_key_id, access_key_id_secret_id, secret_access_key_secret_id,
   session_token, session_token_secret_id, assume_role_arn, assume_role_session_name,
   principal, external_id, example_trust_policy) AS
  SELECT i.id,
         CASE WHEN i.usable THEN i.definition->>'endpoint' END,
         CASE WHEN i.usable THEN i.definition->>'region' END,
         CASE WHEN i.usable THEN i.definition->'access_key_id'->>'literal' END,
         CASE WHEN i.usable THEN i.definition->'access_key_id'->>'secret' END,
         CASE WHEN i.usable THEN i.definition->>'secret_access_key' END,
         CASE WHEN i.usable THEN i.definition->'session_token'->>'literal' END,
         CASE WHEN i.usable THEN i.definition->'session_token'->>'secret' END,
         CASE WHEN i.usable THEN i.definition->>'assume_role_arn' END,
         CASE WHEN i.usable THEN i.definition->>'assume_role_session_name' END,
         x.principal,
         x.external_id,
         CASE WHEN x.principal IS NOT NULL THEN
           jsonb_build_object(
             'Version', '2012-10-17',
             'Statement', jsonb_build_array(jsonb_build_object(
               'Effect', 'Allow',
               'Principal', jsonb_build_object('AWS', x.principal),
               'Action', 'sts:AssumeRole',
               'Condition', jsonb_build_object(
                 'StringEquals', jsonb_build_object('sts:ExternalId', x.external_id)))))
         END
    FROM iamlink_internal.visible_items i
    CROSS JOIN LATERAL (
      SELECT CASE WHEN i.usable AND i.definition ? 'assume_role_arn' THEN
               (SELECT value FROM iamlink_internal.config WHERE key = 'aws_connection_role_arn') END AS principal,
             CASE WHEN i.usable AND i.definition ? 'assume_role_arn' THEN
               'mz_' || (SELECT value FROM iamlink_internal.config WHERE key = 'aws_external_id_prefix') || '_' || i.id END AS external_id
    ) x
   WHERE i.kind = 'connection' AND i.usable;

-- The audit trail: a validation's failure (its message and DETAIL name the customer role and the
-- external id) only for those who may use the connection; its outcome and SQLSTATE for everyone.
CREATE OR REPLACE VIEW mz_catalog.mz_audit_events (id, event_type, object_type, details, "user", occurred_at) AS
  SELECT a.id::numeric, a.event_type, a.object_type,
         CASE WHEN a.event_type = 'validate'
                   AND NOT ((SELECT yes FROM iamlink_internal.sees_everything)
                            OR iamlink_internal.granted_usage(a.details->>'id'))
              THEN a.details - 'error' - 'detail'
              ELSE a.details END,
         a."user", a.occurred_at
    FROM iamlink_internal.audit_events a;

GRANT SELECT ON mz_catalog.mz_role_members, mz_catalog.mz_default_privileges, mz_catalog.mz_system_privileges TO iamlink_reader;
