-- iamlink catalog, version 2: defence in depth for client reads and for the ids that external
-- ids are made of (docs/read-only-gate.md).

-- 1. Client reads run as roles that are members of iamlink_reader. Functions that change
-- settings, run SQL text, touch files, large objects or other sessions are not theirs to call:
-- EXECUTE is revoked from PUBLIC on every volatile function in pg_catalog and on the *_to_xml
-- family (stable, yet they run queries built from names or text), and granted back to the
-- reader only for the harmless ones below. The gate reads the same privileges at start, so this
-- is the one list of what client queries may call.
DO $$
DECLARE
  f record;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure AS signature, p.proname
      FROM pg_proc p
     WHERE p.pronamespace = 'pg_catalog'::regnamespace
       AND (p.provolatile = 'v' OR p.proname LIKE '%\_to\_xml%')
       -- Handlers and triggers are called by the engine itself, never by a query.
       AND p.prorettype NOT IN ('trigger'::regtype, 'language_handler'::regtype, 'index_am_handler'::regtype,
                                'table_am_handler'::regtype, 'tsm_handler'::regtype, 'fdw_handler'::regtype)
  LOOP
    -- A catalog role that does not own pg_catalog's functions (a managed PostgreSQL) cannot
    -- revoke: the gate then still refuses them (Catalog.clientFunctions, docs/scale-out.md).
    BEGIN
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f.signature);
    EXCEPTION WHEN insufficient_privilege THEN
      CONTINUE;
    END;
    IF f.proname IN ('random', 'random_normal', 'clock_timestamp', 'timeofday', 'gen_random_uuid', 'uuidv4', 'uuidv7',
                     'array_sample', 'array_shuffle', 'pg_is_in_recovery', 'pg_jit_available',
                     'pg_table_size', 'pg_relation_size', 'pg_total_relation_size', 'pg_indexes_size',
                     'pg_database_size', 'pg_tablespace_size') THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO iamlink_reader', f.signature);
    END IF;
  END LOOP;
END
$$;

-- Stable, yet each call assigns a transaction id: a client must not spend the engine's xids.
-- The engine's sessions are shared by clients: these views would show other clients' statements
-- (the gate refuses them too). Each only where the catalog role may.
DO $$
DECLARE
  revoke text;
BEGIN
  FOREACH revoke IN ARRAY ARRAY[
    'REVOKE EXECUTE ON FUNCTION pg_catalog.txid_current() FROM PUBLIC',
    'REVOKE EXECUTE ON FUNCTION pg_catalog.pg_current_xact_id() FROM PUBLIC',
    'REVOKE SELECT ON pg_catalog.pg_prepared_statements, pg_catalog.pg_cursors FROM PUBLIC'
  ] LOOP
    BEGIN
      EXECUTE revoke;
    EXCEPTION WHEN insufficient_privilege THEN
      NULL;
    END;
  END LOOP;
END
$$;

-- session_user is the client's own now (session authorization): the stand-in function that the
-- gate used to rewrite session_user into, and the setting it read, are gone.
DROP FUNCTION mz_catalog."session_user"();

-- 2. Every item id ever issued, and the external id it carries, recorded once and never
-- changed or deleted: no code path can hand out an id (and so an external id) twice. Ids are
-- recorded when allocated, committed on their own (an external id may reach a customer in a
-- failed VALIDATE's hint before its connection exists), and marked used when an item takes one.
CREATE TABLE iamlink_internal.issued_ids (
  id          text PRIMARY KEY,
  external_id text UNIQUE,
  used        boolean NOT NULL DEFAULT false,
  issued_at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION iamlink_internal.external_id_of(id text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT 'mz_' || (SELECT value FROM iamlink_internal.config WHERE key = 'aws_external_id_prefix') || '_' || id
$$;

-- An item takes an id: allocated and unused, or never allocated (then recorded now). An id
-- an item already took is refused by the primary key.
CREATE FUNCTION iamlink_internal.record_issued_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE iamlink_internal.issued_ids SET used = true WHERE id = NEW.id AND NOT used;
  IF NOT FOUND THEN
    INSERT INTO iamlink_internal.issued_ids (id, external_id, used) VALUES (NEW.id, iamlink_internal.external_id_of(NEW.id), true);
  END IF;
  RETURN NEW;
END
$$;

-- Append-only: the one change allowed is an allocated id becoming used.
CREATE FUNCTION iamlink_internal.guard_issued_ids() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NOT OLD.used AND NEW.used AND NEW.id = OLD.id
     AND NEW.external_id IS NOT DISTINCT FROM OLD.external_id AND NEW.issued_at = OLD.issued_at THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'issued_ids is append-only: issued ids are never changed or removed' USING ERRCODE = '55000';
END
$$;

CREATE FUNCTION iamlink_internal.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% cannot change: issued ids are fixed', TG_TABLE_NAME USING ERRCODE = '55000';
END
$$;

INSERT INTO iamlink_internal.issued_ids (id, external_id, used)
SELECT id, iamlink_internal.external_id_of(id), true FROM iamlink_internal.items;

CREATE TRIGGER items_record_issued_id AFTER INSERT ON iamlink_internal.items
  FOR EACH ROW EXECUTE FUNCTION iamlink_internal.record_issued_id();
CREATE TRIGGER items_id_fixed BEFORE UPDATE OF id ON iamlink_internal.items
  FOR EACH ROW EXECUTE FUNCTION iamlink_internal.refuse_change();
CREATE TRIGGER issued_ids_append_only BEFORE UPDATE OR DELETE ON iamlink_internal.issued_ids
  FOR EACH ROW EXECUTE FUNCTION iamlink_internal.guard_issued_ids();
CREATE TRIGGER issued_ids_no_truncate BEFORE TRUNCATE ON iamlink_internal.issued_ids
  FOR EACH STATEMENT EXECUTE FUNCTION iamlink_internal.guard_issued_ids();
