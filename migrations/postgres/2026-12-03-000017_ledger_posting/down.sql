CREATE INDEX ledger_entries_reverses ON ledger_entries(reverses_entry_id);
CREATE TRIGGER rollup_mark_ledger_insert AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_page_facts();
