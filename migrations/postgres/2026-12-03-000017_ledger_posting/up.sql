-- Issue 15: the posting marks the dashboard days of its entries once
-- (`storage::ledger::insert_entries`), on both backends, so the statement trigger that did
-- it here goes; entries are written by that function only, now with COPY.
DROP TRIGGER rollup_mark_ledger_insert ON ledger_entries;

-- Nothing reads entries by the entry they reverse, and entries are never deleted.
DROP INDEX ledger_entries_reverses;
