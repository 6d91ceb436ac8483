-- iamlink catalog, version 8: Materialize's privilege functions for connections and secrets,
-- `has_connection_privilege([role,] connection, privilege)` and `has_secret_privilege(...)`, the role
-- and the object each by name or oid (Materialize's console asks
-- `has_connection_privilege(current_user, c.oid, 'USAGE')`). docs/privileges.md.

-- Whether role `role_id` holds any of the privileges listed in `privilege` ('USAGE', 'usage, create')
-- on item `item_id` of kind `kind`: a superuser does; else the item's ACL for the role, a role it
-- inherits from, or PUBLIC. NULL for an item that does not exist (as PostgreSQL's has_*_privilege
-- answers an unknown oid).
CREATE FUNCTION iamlink_internal.role_holds(role_id text, item_id text, kind text, privilege text) RETURNS boolean
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  wanted text[];
  p text;
BEGIN
  FOREACH p IN ARRAY string_to_array(privilege, ',') LOOP
    p := upper(btrim(p));
    IF p <> 'USAGE' THEN
      RAISE EXCEPTION 'unrecognized privilege type: "%"', btrim(p) USING ERRCODE = '22023';
    END IF;
    wanted := array_append(wanted, 'U');
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM iamlink_internal.items i WHERE i.id = item_id AND i.kind = role_holds.kind) THEN
    RETURN NULL;
  END IF;
  IF EXISTS (SELECT 1 FROM iamlink_internal.roles r WHERE r.id = role_id AND r.superuser AND r.id NOT IN ('p', 's1')) THEN
    RETURN true;
  END IF;
  RETURN EXISTS (
    WITH RECURSIVE held (id, inherit) AS (
      SELECT r.id, r.inherit FROM iamlink_internal.roles r WHERE r.id = role_id
      UNION
      SELECT g.id, g.inherit FROM held h
        JOIN iamlink_internal.role_members m ON m.member_id = h.id AND h.inherit
        JOIN iamlink_internal.roles g ON g.id = m.role_id
    )
    SELECT 1 FROM iamlink_internal.item_privileges ip
     WHERE ip.item_id = role_holds.item_id AND ip.privileges = ANY (wanted)
       AND (ip.grantee_id = 'p' OR ip.grantee_id IN (SELECT id FROM held)));
END
$$;

-- A role by name ('public' is PUBLIC) or oid; a name that is no role is an error, an oid NULL.
CREATE FUNCTION iamlink_internal.role_id_of(name text) RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  found text;
BEGIN
  IF lower(name) = 'public' THEN RETURN 'p'; END IF;
  SELECT id INTO found FROM iamlink_internal.roles WHERE roles.name = role_id_of.name AND id NOT IN ('p', 's1');
  IF found IS NULL THEN
    RAISE EXCEPTION 'role "%" does not exist', name USING ERRCODE = '42704';
  END IF;
  RETURN found;
END
$$;

-- An item of `kind` by name ('c', 'public.c', 'materialize.public.c', quoted parts as written in SQL);
-- a name that is no such item is an error.
CREATE FUNCTION iamlink_internal.item_id_of(name text, kind text) RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  parts text[] := parse_ident(name);
  found text;
BEGIN
  IF array_length(parts, 1) > 3 OR (array_length(parts, 1) = 3 AND parts[1] <> 'materialize')
     OR (array_length(parts, 1) >= 2 AND parts[array_length(parts, 1) - 1] <> 'public') THEN
    RAISE EXCEPTION 'unknown catalog item ''%''', name USING ERRCODE = '42704';
  END IF;
  SELECT id INTO found FROM iamlink_internal.items i
   WHERE i.schema_id = 'u3' AND i.name = parts[array_length(parts, 1)] AND i.kind = item_id_of.kind;
  IF found IS NULL THEN
    RAISE EXCEPTION 'unknown catalog item ''%''', name USING ERRCODE = '42704';
  END IF;
  RETURN found;
END
$$;

CREATE FUNCTION iamlink_internal.item_id_of(item oid, kind text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT id FROM iamlink_internal.items i WHERE i.oid = item::integer AND i.kind = item_id_of.kind
$$;

CREATE FUNCTION iamlink_internal.role_id_of(role oid) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT id FROM iamlink_internal.roles r WHERE r.oid = role::integer AND r.id <> 'p'
$$;

-- The public functions, for both kinds and every overload. Without a role: the reader's own
-- current role (iamlink.role_id, set by iamlink for each read).
DO $$
DECLARE
  kind text;
  role_arg text;
  item_arg text;
BEGIN
  FOREACH kind IN ARRAY ARRAY['connection', 'secret'] LOOP
    FOREACH item_arg IN ARRAY ARRAY['text', 'oid'] LOOP
      FOREACH role_arg IN ARRAY ARRAY['text', 'oid'] LOOP
        EXECUTE format(
          'CREATE FUNCTION mz_catalog.has_%1$s_privilege(role %2$s, %1$s %3$s, privilege text) RETURNS boolean
             LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS
             $f$ SELECT iamlink_internal.role_holds(iamlink_internal.role_id_of(role), iamlink_internal.item_id_of(%1$s, %4$L), %4$L, privilege) $f$',
          kind, role_arg, item_arg, kind);
      END LOOP;
      EXECUTE format(
        'CREATE FUNCTION mz_catalog.has_%1$s_privilege(%1$s %2$s, privilege text) RETURNS boolean
           LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS
           $f$ SELECT iamlink_internal.role_holds(current_setting(''iamlink.role_id'', true), iamlink_internal.item_id_of(%1$s, %3$L), %3$L, privilege) $f$',
        kind, item_arg, kind);
    END LOOP;
  END LOOP;
END
$$;

-- Only client reads (and the catalog's owner) call them; the internal helpers are theirs alone.
REVOKE EXECUTE ON FUNCTION iamlink_internal.role_holds(text, text, text, text), iamlink_internal.role_id_of(text),
  iamlink_internal.role_id_of(oid), iamlink_internal.item_id_of(text, text), iamlink_internal.item_id_of(oid, text) FROM PUBLIC;

-- pg_roles as tools that read it unqualified expect it (Materialize's Terraform provider joins
-- `pg_roles` by name for rolsuper and rolcanlogin): iamlink's roles with PostgreSQL's columns. Client
-- reads search mz_catalog before pg_catalog (session.ts), so unqualified `pg_roles` is this view;
-- `pg_catalog.pg_roles` stays the engine's. An engine role never gets the attributes themselves:
-- client reads run as it.
CREATE VIEW mz_catalog.pg_roles (rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
                                 rolconnlimit, rolpassword, rolvaliduntil, rolbypassrls, rolconfig, oid) AS
  SELECT name::name, superuser, inherit, createrole, false, login, false,
         -1, '********'::text, NULL::timestamptz, false, NULL::text[], oid::oid
    FROM iamlink_internal.roles WHERE id <> 'p';
GRANT SELECT ON mz_catalog.pg_roles TO iamlink_reader;

-- Comments on roles (COMMENT ON ROLE, which the Terraform provider's role resource sends), in
-- mz_comments with object_type 'role' as in Materialize. A role's id may equal an item's (both are
-- u<n>), so the SHOW views take only their own kind's comments.
CREATE TABLE iamlink_internal.role_comments (
  role_id text PRIMARY KEY REFERENCES iamlink_internal.roles (id) ON DELETE CASCADE,
  comment text NOT NULL
);

CREATE OR REPLACE VIEW mz_internal.mz_comments (id, object_type, object_sub_id, comment) AS
  SELECT c.id, i.kind, NULL::integer, c.comment
    FROM iamlink_internal.comments c
    JOIN iamlink_internal.items i ON i.id = c.id
  UNION ALL
  SELECT rc.role_id, 'role', NULL::integer, rc.comment FROM iamlink_internal.role_comments rc;

CREATE OR REPLACE VIEW mz_internal.mz_show_connections (id, name, type, schema_id, comment) AS
  SELECT c.id, c.name, c.type, c.schema_id, COALESCE(cm.comment, '')
    FROM mz_catalog.mz_connections c
    LEFT JOIN mz_internal.mz_comments cm ON cm.id = c.id AND cm.object_type = 'connection' AND cm.object_sub_id IS NULL;

CREATE OR REPLACE VIEW mz_internal.mz_show_secrets (id, name, schema_id, comment) AS
  SELECT s.id, s.name, s.schema_id, COALESCE(cm.comment, '')
    FROM mz_catalog.mz_secrets s
    LEFT JOIN mz_internal.mz_comments cm ON cm.id = s.id AND cm.object_type = 'secret' AND cm.object_sub_id IS NULL;
