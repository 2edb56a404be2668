DROP TRIGGER ledger_entries_open_period_only;

CREATE TRIGGER ledger_entries_open_period_only BEFORE INSERT ON ledger_entries
WHEN (SELECT status FROM pay_periods WHERE id = NEW.period_id) IS NOT 'open'
BEGIN
    SELECT RAISE(ABORT, 'pay period is closed or unknown: nothing may be posted into it');
END;
