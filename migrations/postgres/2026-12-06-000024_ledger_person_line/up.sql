-- Issue 15: one unique index is both the guard against posting a revision twice and the
-- way to a person's entries from an instant (the re-pricing range). It replaces the unique
-- constraint on (line_key, revision, entry_kind) and the index on (person_id, occurred_at):
-- a line key starts with its person and ends with its instant, and every entry paydown
-- posts takes both from its line, so two of its entries that share a line key, revision
-- and kind cannot differ in person or instant: the wider key refuses what the narrower
-- one did (a concurrent accrual posting the same revision again).
-- Measured, 300,000 pages: the first accrual posted 49,949-50,133 lines/s against
-- 34,726-37,770 with the two indexes (alternating, same binary).
CREATE UNIQUE INDEX ledger_entries_person_line
    ON ledger_entries (person_id, occurred_at, line_key, revision, entry_kind);
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_line_key_revision_entry_kind_key;
DROP INDEX ledger_entries_person_occurred;
