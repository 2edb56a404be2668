-- Issue 17: PostgreSQL has no REPLACE, and an UPSERT's update fires the UPDATE triggers
-- the ledger already has. What was missing: the audit log was not append-only, and
-- pay_periods could be truncated.

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: a record never changes and is never deleted';
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE FUNCTION pay_periods_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pay periods are never deleted';
END;
$$;
CREATE TRIGGER pay_periods_no_truncate BEFORE TRUNCATE ON pay_periods
    FOR EACH STATEMENT EXECUTE FUNCTION pay_periods_no_truncate();
