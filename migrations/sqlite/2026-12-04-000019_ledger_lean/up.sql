-- Issue 15: each ledger entry's insert paid for a BEFORE INSERT trigger and two indexes
-- that the posting does not need (measured on a year of 305,811 entries: 9.7-10.1 s of
-- CPU for the first accrual with them, 8.3-8.9 s without).
--
-- `ledger_entries_insert_once` refused a second insert of an entry id or of a line's
-- (line_key, revision, kind) whatever the statement's conflict clause (issue 17: REPLACE
-- deletes the row in its way without firing DELETE triggers). The primary key and the
-- unique key already refuse a plain second insert; every paydown connection now sets
-- `PRAGMA recursive_triggers = ON` (`storage::connection`), under which the delete that
-- REPLACE makes fires `ledger_entries_no_delete` and aborts the statement. The period
-- guard `ledger_entries_open_period_only` stays: a closed period never changes.
DROP TRIGGER ledger_entries_insert_once;

-- One index serves a period's entries (payroll, review) and one person's entries in a
-- period (the statement); a person's entries alone use `ledger_entries_person_occurred`.
DROP INDEX ledger_entries_person_period;
DROP INDEX ledger_entries_period;
CREATE INDEX ledger_entries_period_person ON ledger_entries(period_id, person_id);
