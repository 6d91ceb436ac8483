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
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f.signature);
    IF f.proname IN ('random', 'random_normal', 'clock_timestamp', 'timeofday', 'gen_random_uuid', 'uuidv4', 'uuidv7',
                     'array_sample', 'array_shuffle', 'pg_is_in_recovery', 'pg_jit_available',
                     'pg_table_size', 'pg_relation_size', 'pg_total_relation_size', 'pg_indexes_size',
                     'pg_database_size', 'pg_tablespace_size') THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO iamlink_reader', f.signature);
    END IF;
  END LOOP;
END
$$;

-- 2. Every item id ever issued, and the external id it carries for connections, recorded once
-- and never changed or deleted: no code path can hand out an id (and so an external id) twice.
CREATE TABLE iamlink_internal.issued_ids (
  id          text PRIMARY KEY,
  external_id text UNIQUE,
  issued_at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION iamlink_internal.record_issued_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO iamlink_internal.issued_ids (id, external_id)
  VALUES (NEW.id, CASE WHEN NEW.kind = 'connection' THEN
            'mz_' || (SELECT value FROM iamlink_internal.config WHERE key = 'aws_external_id_prefix') || '_' || NEW.id END);
  RETURN NEW;
END
$$;

CREATE FUNCTION iamlink_internal.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: issued ids are never changed or removed', TG_TABLE_NAME
    USING ERRCODE = '55000';
END
$$;

INSERT INTO iamlink_internal.issued_ids (id, external_id)
SELECT id, CASE WHEN kind = 'connection' THEN
         'mz_' || (SELECT value FROM iamlink_internal.config WHERE key = 'aws_external_id_prefix') || '_' || id END
  FROM iamlink_internal.items;

CREATE TRIGGER items_record_issued_id AFTER INSERT ON iamlink_internal.items
  FOR EACH ROW EXECUTE FUNCTION iamlink_internal.record_issued_id();
CREATE TRIGGER items_id_fixed BEFORE UPDATE OF id ON iamlink_internal.items
  FOR EACH ROW EXECUTE FUNCTION iamlink_internal.refuse_change();
CREATE TRIGGER issued_ids_append_only BEFORE UPDATE OR DELETE ON iamlink_internal.issued_ids
  FOR EACH ROW EXECUTE FUNCTION iamlink_internal.refuse_change();
CREATE TRIGGER issued_ids_no_truncate BEFORE TRUNCATE ON iamlink_internal.issued_ids
  FOR EACH STATEMENT EXECUTE FUNCTION iamlink_internal.refuse_change();
