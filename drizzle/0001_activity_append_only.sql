-- The activity table is an append-only audit trail (DESIGN invariant 5): the database itself
-- refuses to change or remove a row, whatever the application does.
CREATE OR REPLACE FUNCTION trackline_activity_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'activity is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER activity_no_update_delete BEFORE UPDATE OR DELETE ON "activity"
  FOR EACH ROW EXECUTE FUNCTION trackline_activity_append_only();
--> statement-breakpoint
CREATE TRIGGER activity_no_truncate BEFORE TRUNCATE ON "activity"
  FOR EACH STATEMENT EXECUTE FUNCTION trackline_activity_append_only();
