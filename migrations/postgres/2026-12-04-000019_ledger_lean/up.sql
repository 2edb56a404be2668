-- Issue 15: one index serves a period's entries (payroll, review) and one person's entries
-- in a period (the statement); a person's entries alone use `ledger_entries_person_occurred`.
DROP INDEX ledger_entries_person_period;
DROP INDEX ledger_entries_period;
CREATE INDEX ledger_entries_period_person ON ledger_entries(period_id, person_id);
