-- iamlink catalog, version 6: the audit trail, as Materialize's mz_catalog.mz_audit_events. One row
-- per catalog change, written in the same transaction as the change, and one per validation.
-- Names and ids only: never a secret value.
CREATE TABLE iamlink_internal.audit_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_type  text NOT NULL,
  object_type text NOT NULL,
  details     jsonb NOT NULL,
  "user"      text,
  occurred_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only: what happened stays what happened.
CREATE FUNCTION iamlink_internal.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only: events are never changed or removed' USING ERRCODE = '55000';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON iamlink_internal.audit_events
  FOR EACH ROW EXECUTE FUNCTION iamlink_internal.audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON iamlink_internal.audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION iamlink_internal.audit_append_only();

CREATE VIEW mz_catalog.mz_audit_events (id, event_type, object_type, details, "user", occurred_at) AS
  SELECT id::numeric, event_type, object_type, details, "user", occurred_at FROM iamlink_internal.audit_events;
GRANT SELECT ON mz_catalog.mz_audit_events TO iamlink_reader;
