DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TRIGGER audit_log_insert_once;
DROP TRIGGER pay_periods_insert_once;
DROP TRIGGER ledger_entries_insert_once;
