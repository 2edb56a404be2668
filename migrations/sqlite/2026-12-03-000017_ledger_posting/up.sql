-- Issue 15: posting a year of history was dominated by per-entry work the posting can do
-- once. A ledger entry of a page used to mark the page's day dirty for the dashboard's
-- rollup through a row trigger (a page look-up and an AUTOINCREMENT insert per entry,
-- about 40 % of an entry's insert); the posting now marks each distinct day once
-- (`storage::ledger::insert_entries`). Entries are written by that function only.
DROP TRIGGER rollup_mark_ledger_insert;

-- Nothing reads entries by the entry they reverse (a person's entries are read whole and
-- matched in memory), and entries are never deleted, so the foreign key needs no index.
DROP INDEX ledger_entries_reverses;
