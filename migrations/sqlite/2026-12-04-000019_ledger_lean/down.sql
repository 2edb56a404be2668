DROP INDEX ledger_entries_period_person;
CREATE INDEX ledger_entries_period ON ledger_entries(period_id);
CREATE INDEX ledger_entries_person_period ON ledger_entries(person_id, period_id);
CREATE TRIGGER ledger_entries_insert_once BEFORE INSERT ON ledger_entries
WHEN EXISTS (
    SELECT 1 FROM ledger_entries
    WHERE id = NEW.id
       OR (line_key = NEW.line_key AND revision = NEW.revision AND entry_kind = NEW.entry_kind)
)
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only: an entry is never replaced');
END;
