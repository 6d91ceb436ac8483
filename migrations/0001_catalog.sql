-- iamlink catalog, version 1. Plain PostgreSQL: runs unchanged on PGlite and PostgreSQL.
-- Internal tables live in iamlink_internal, which client sessions cannot read; users see
-- the system views in mz_catalog and mz_internal (DESIGN §2), which read the internal
-- tables with the privileges of their owner.

-- (The migrations runner creates schema iamlink_internal and its migrations table.)

CREATE TABLE iamlink_internal.config (
  key   text PRIMARY KEY,
  value text NOT NULL
);

-- One counter for every item id (u1, u2, ...): never reused, a failed CREATE may burn one.
CREATE SEQUENCE iamlink_internal.item_id_seq;
-- Materialize hands user objects oids from 20000 up.
CREATE SEQUENCE iamlink_internal.item_oid_seq START 20000;
CREATE SEQUENCE iamlink_internal.role_id_seq;

CREATE TABLE iamlink_internal.roles (
  id   text PRIMARY KEY,
  oid  integer NOT NULL UNIQUE,
  name text NOT NULL UNIQUE
);

CREATE TABLE iamlink_internal.items (
  id                  text PRIMARY KEY,
  oid                 integer NOT NULL UNIQUE,
  kind                text NOT NULL CHECK (kind IN ('secret', 'connection')),
  schema_id           text NOT NULL,
  name                text NOT NULL,
  owner_id            text NOT NULL,
  -- For connections: the planned AWS connection (secret references by id).
  definition          jsonb,
  create_sql          text,
  redacted_create_sql text,
  UNIQUE (schema_id, name)
);
CREATE INDEX items_name_idx ON iamlink_internal.items (name);

CREATE TABLE iamlink_internal.secrets (
  id         text PRIMARY KEY REFERENCES iamlink_internal.items (id) ON DELETE CASCADE,
  key_id     text NOT NULL,
  nonce      bytea NOT NULL,
  ciphertext bytea NOT NULL
);

CREATE TABLE iamlink_internal.dependencies (
  object_id            text NOT NULL REFERENCES iamlink_internal.items (id) ON DELETE CASCADE,
  referenced_object_id text NOT NULL REFERENCES iamlink_internal.items (id),
  PRIMARY KEY (object_id, referenced_object_id)
);
CREATE INDEX dependencies_referenced_idx ON iamlink_internal.dependencies (referenced_object_id);

CREATE SCHEMA mz_catalog;
CREATE SCHEMA mz_internal;

CREATE VIEW mz_catalog.mz_databases (id, oid, name, owner_id, privileges) AS
  VALUES ('u1'::text, 16384::oid, 'materialize'::text, 's1'::text, ARRAY['=U/s1']::text[]);

CREATE VIEW mz_catalog.mz_schemas (id, oid, database_id, name, owner_id, privileges) AS
  VALUES ('s1'::text, 16385::oid, NULL::text, 'mz_catalog'::text, 's1'::text, ARRAY['=U/s1']::text[]),
         ('s2', 16386, NULL, 'pg_catalog', 's1', ARRAY['=U/s1']),
         ('s3', 16387, NULL, 'mz_internal', 's1', ARRAY['=U/s1']),
         ('s4', 16388, NULL, 'information_schema', 's1', ARRAY['=U/s1']),
         ('u3', 16389, 'u1', 'public', 's1', ARRAY['=U/s1']);

CREATE VIEW mz_catalog.mz_roles (id, oid, name, inherit) AS
  SELECT id, oid::oid, name, true FROM iamlink_internal.roles;

CREATE VIEW mz_catalog.mz_connections
  (id, oid, schema_id, name, type, owner_id, privileges, create_sql, redacted_create_sql) AS
  SELECT id, oid::oid, schema_id, name, 'aws'::text, owner_id,
         ARRAY[owner_id || '=U/' || owner_id], create_sql, redacted_create_sql
    FROM iamlink_internal.items
   WHERE kind = 'connection';

CREATE VIEW mz_catalog.mz_secrets (id, oid, schema_id, name, owner_id, privileges) AS
  SELECT id, oid::oid, schema_id, name, owner_id, ARRAY[owner_id || '=U/' || owner_id]
    FROM iamlink_internal.items
   WHERE kind = 'secret';

CREATE VIEW mz_internal.mz_object_dependencies (object_id, referenced_object_id) AS
  SELECT object_id, referenced_object_id FROM iamlink_internal.dependencies;

-- Settings are read by scalar subqueries in a LATERAL so that a lookup by id or name stays an
-- index nested loop (a CTE over all connections made the planner hash-join a full scan).
CREATE VIEW mz_internal.mz_aws_connections
  (id, endpoint, region, access_key_id, access_key_id_secret_id, secret_access_key_secret_id,
   session_token, session_token_secret_id, assume_role_arn, assume_role_session_name,
   principal, external_id, example_trust_policy) AS
  SELECT i.id,
         i.definition->>'endpoint',
         i.definition->>'region',
         i.definition->'access_key_id'->>'literal',
         i.definition->'access_key_id'->>'secret',
         i.definition->>'secret_access_key',
         i.definition->'session_token'->>'literal',
         i.definition->'session_token'->>'secret',
         i.definition->>'assume_role_arn',
         i.definition->>'assume_role_session_name',
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
    FROM iamlink_internal.items i
    CROSS JOIN LATERAL (
      SELECT CASE WHEN i.definition ? 'assume_role_arn' THEN
               (SELECT value FROM iamlink_internal.config WHERE key = 'aws_connection_role_arn') END AS principal,
             CASE WHEN i.definition ? 'assume_role_arn' THEN
               'mz_' || (SELECT value FROM iamlink_internal.config WHERE key = 'aws_external_id_prefix') || '_' || i.id END AS external_id
    ) x
   WHERE i.kind = 'connection';

-- session_user for client queries: they run under SET LOCAL ROLE, which leaves the
-- engine's session user in place; the gate rewrites session_user to this function.
CREATE FUNCTION mz_catalog."session_user"() RETURNS name
  LANGUAGE sql STABLE AS $$ SELECT current_setting('iamlink.login_user')::name $$;

-- The role every client session runs as (through its own member role): it reads the
-- system views and pg_catalog, and nothing in iamlink_internal.
-- Roles are the whole server's: on a shared PostgreSQL another catalog's database may create it
-- at the same moment (then this one's CREATE fails on the unique name, and the role is there).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'iamlink_reader') THEN
    BEGIN
      CREATE ROLE iamlink_reader NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$$;
REVOKE ALL ON SCHEMA iamlink_internal FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA mz_catalog, mz_internal TO iamlink_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA mz_catalog, mz_internal TO iamlink_reader;
