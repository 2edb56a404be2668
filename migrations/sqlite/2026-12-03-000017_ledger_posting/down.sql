CREATE INDEX ledger_entries_reverses ON ledger_entries(reverses_entry_id);
CREATE TRIGGER rollup_mark_ledger_insert AFTER INSERT ON ledger_entries WHEN NEW.page_id IS NOT NULL BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = NEW.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL;
END;
