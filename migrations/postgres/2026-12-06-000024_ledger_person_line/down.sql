CREATE INDEX ledger_entries_person_occurred ON ledger_entries (person_id, occurred_at);
ALTER TABLE ledger_entries
    ADD CONSTRAINT ledger_entries_line_key_revision_entry_kind_key UNIQUE (line_key, revision, entry_kind);
DROP INDEX ledger_entries_person_line;
