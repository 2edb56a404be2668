DROP TRIGGER pay_periods_no_truncate ON pay_periods;
DROP FUNCTION pay_periods_no_truncate();
DROP TRIGGER audit_log_no_truncate ON audit_log;
DROP TRIGGER audit_log_no_update_or_delete ON audit_log;
DROP FUNCTION audit_log_append_only();
