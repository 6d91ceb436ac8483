-- iamlink catalog, version 3: Materialize's shapes where tools read them (docs/compat.md,
-- "Catalog text, SHOW and COMMENT ON"). Plain PostgreSQL: runs unchanged on PGlite and PostgreSQL.

-- 1. Comments (COMMENT ON CONNECTION | SECRET). One per item; dropping the item drops it.
CREATE TABLE iamlink_internal.comments (
  id      text PRIMARY KEY REFERENCES iamlink_internal.items (id) ON DELETE CASCADE,
  comment text NOT NULL
);

-- Materialize's columns (src/catalog/src/builtin.rs, MZ_COMMENTS): object_sub_id is a column's
-- position for a comment on a column; items here have no columns, so it is always NULL.
CREATE VIEW mz_internal.mz_comments (id, object_type, object_sub_id, comment) AS
  SELECT c.id, i.kind, NULL::integer, c.comment
    FROM iamlink_internal.comments c
    JOIN iamlink_internal.items i ON i.id = c.id;

-- 2. What SHOW CONNECTIONS and SHOW SECRETS read (Materialize plans them over
-- mz_internal.mz_show_connections / mz_show_secrets, src/sql/src/plan/statement/show.rs). An
-- object without a comment shows '' there, as Materialize's SHOW commands do.
CREATE VIEW mz_internal.mz_show_connections (id, name, type, schema_id, comment) AS
  SELECT c.id, c.name, c.type, c.schema_id, COALESCE(cm.comment, '')
    FROM mz_catalog.mz_connections c
    LEFT JOIN mz_internal.mz_comments cm ON cm.id = c.id AND cm.object_sub_id IS NULL;

CREATE VIEW mz_internal.mz_show_secrets (id, name, schema_id, comment) AS
  SELECT s.id, s.name, s.schema_id, COALESCE(cm.comment, '')
    FROM mz_catalog.mz_secrets s
    LEFT JOIN mz_internal.mz_comments cm ON cm.id = s.id AND cm.object_sub_id IS NULL;

-- 3. mz_roles with the role attributes Materialize has: every iamlink role is a login role
-- (created at first login) and none is a superuser.
CREATE OR REPLACE VIEW mz_catalog.mz_roles (id, oid, name, inherit, rolcanlogin, rolsuper) AS
  SELECT id, oid::oid, name, true, true, false FROM iamlink_internal.roles;

-- 4. mz_objects and mz_columns (Materialize's columns, builtin.rs MZ_OBJECTS / MZ_COLUMNS):
-- the user's connections and secrets, and the system relations a client can read. A system
-- relation's id is 's' and its engine oid (stable for a data directory, not across them); its
-- type is what it is in the engine (iamlink's system relations are views).
CREATE VIEW iamlink_internal.system_relations (id, oid, schema_id, name, type) AS
  SELECT 's' || c.oid::text, c.oid, s.id, c.relname::text,
         CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized-view' ELSE 'table' END
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN mz_catalog.mz_schemas s ON s.name = n.nspname AND s.database_id IS NULL
   WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f');

CREATE VIEW mz_catalog.mz_objects (id, oid, schema_id, name, type, owner_id, cluster_id, privileges) AS
  SELECT id, oid, schema_id, name, 'connection'::text, owner_id, NULL::text, privileges FROM mz_catalog.mz_connections
  UNION ALL
  SELECT id, oid, schema_id, name, 'secret', owner_id, NULL, privileges FROM mz_catalog.mz_secrets
  UNION ALL
  SELECT id, oid, schema_id, name, type, 's1', NULL, ARRAY['=r/s1']::text[] FROM iamlink_internal.system_relations;

CREATE VIEW mz_catalog.mz_columns (id, name, position, nullable, type, "default", type_oid, type_mod) AS
  SELECT r.id, a.attname::text, a.attnum::bigint, NOT a.attnotnull,
         pg_catalog.format_type(a.atttypid, NULL), pg_catalog.pg_get_expr(d.adbin, d.adrelid),
         a.atttypid, a.atttypmod
    FROM iamlink_internal.system_relations r
    JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum;

GRANT SELECT ON mz_internal.mz_comments, mz_internal.mz_show_connections, mz_internal.mz_show_secrets,
  mz_catalog.mz_objects, mz_catalog.mz_columns TO iamlink_reader;

-- 5. create_sql and redacted_create_sql in Materialize's shape (src/catalog/model.ts,
-- renderConnectionSql, is the renderer; these functions are the same rendering in SQL, for the
-- connections stored before this version, and a test holds the two equal).
CREATE FUNCTION iamlink_internal.mz_quote_ident(name text, stable boolean) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
           WHEN NOT stable AND name ~ '^[a-z_][a-z0-9_]*$'
                AND name <> ALL (ARRAY['with', 'select', 'from', 'where', 'group', 'having', 'qualify', 'window', 'order',
                                       'limit', 'offset', 'fetch', 'options', 'returning', 'union', 'except', 'intersect',
                                       'case', 'on', 'join', 'inner', 'cross', 'full', 'left', 'right', 'natural', 'using',
                                       'set', 'outer', 'year', 'month', 'day', 'hour', 'minute', 'second'])
           THEN name
           ELSE '"' || replace(name, '"', '""') || '"'
         END
$$;

CREATE FUNCTION iamlink_internal.mz_qualified_name(name text, stable boolean) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT iamlink_internal.mz_quote_ident('materialize', stable) || '.' || iamlink_internal.mz_quote_ident('public', stable)
         || '.' || iamlink_internal.mz_quote_ident(name, stable)
$$;

CREATE FUNCTION iamlink_internal.mz_literal(value text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT '''' || replace(value, '''', '''''') || ''''
$$;

-- A literal-or-secret option value ({"literal": ...} or {"secret": id}) in `form`.
CREATE FUNCTION iamlink_internal.mz_option_value(value jsonb, form text, hide_literal boolean) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT CASE
           WHEN value IS NULL THEN NULL
           WHEN value ? 'secret' THEN
             'SECRET ' || CASE WHEN form IN ('catalog', 'catalog_redacted') THEN '[' || (value->>'secret') || ' AS ' ELSE '' END
             || iamlink_internal.mz_qualified_name((SELECT i.name FROM iamlink_internal.items i WHERE i.id = value->>'secret'), form = 'catalog')
             || CASE WHEN form IN ('catalog', 'catalog_redacted') THEN ']' ELSE '' END
           WHEN hide_literal THEN '''<REDACTED>'''
           ELSE iamlink_internal.mz_literal(value->>'literal')
         END
$$;

CREATE FUNCTION iamlink_internal.render_connection_sql(name text, def jsonb, form text) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT 'CREATE CONNECTION ' || iamlink_internal.mz_qualified_name(name, form = 'catalog') || ' TO AWS ('
         || string_agg(o.option || ' = ' || o.value, ', ' ORDER BY o.ord) || ')'
         || CASE WHEN form IN ('show', 'show_redacted') THEN ';' ELSE '' END
    FROM (VALUES
      (1, 'ACCESS KEY ID', iamlink_internal.mz_option_value(def->'access_key_id', form, false)),
      (2, 'ASSUME ROLE ARN', iamlink_internal.mz_literal(def->>'assume_role_arn')),
      (3, 'ASSUME ROLE SESSION NAME', iamlink_internal.mz_literal(def->>'assume_role_session_name')),
      (4, 'ENDPOINT', iamlink_internal.mz_literal(def->>'endpoint')),
      (5, 'REGION', iamlink_internal.mz_literal(def->>'region')),
      (6, 'SECRET ACCESS KEY', iamlink_internal.mz_option_value(
            CASE WHEN def ? 'secret_access_key' THEN jsonb_build_object('secret', def->>'secret_access_key') END, form, false)),
      (7, 'SESSION TOKEN', iamlink_internal.mz_option_value(def->'session_token', form, form IN ('catalog_redacted', 'show_redacted')))
    ) AS o (ord, option, value)
   WHERE o.value IS NOT NULL
$$;

UPDATE iamlink_internal.items
   SET create_sql = iamlink_internal.render_connection_sql(name, definition, 'catalog'),
       redacted_create_sql = iamlink_internal.render_connection_sql(name, definition, 'catalog_redacted')
 WHERE kind = 'connection';
