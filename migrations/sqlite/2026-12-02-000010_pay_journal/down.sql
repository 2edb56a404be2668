DROP TRIGGER rollup_mark_page_insert;
DROP TRIGGER rollup_mark_page_update;
DROP TRIGGER rollup_mark_page_delete;
DROP TRIGGER rollup_mark_response_insert;
DROP TRIGGER rollup_mark_response_update;
DROP TRIGGER rollup_mark_response_delete;
DROP TRIGGER rollup_mark_ledger_insert;
CREATE TRIGGER rollup_mark_page_insert AFTER INSERT ON pages BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(NEW.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_page_update AFTER UPDATE OF service_key, alert_key, lane, triggered_at, acknowledged_at, acknowledged_by, resolved_at ON pages BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(OLD.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(NEW.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_page_delete AFTER DELETE ON pages BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(OLD.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_response_insert AFTER INSERT ON responses BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = NEW.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_response_update AFTER UPDATE ON responses BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = OLD.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = NEW.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_response_delete AFTER DELETE ON responses BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = OLD.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_ledger_insert AFTER INSERT ON ledger_entries WHEN NEW.page_id IS NOT NULL BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = NEW.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
DROP TRIGGER pay_journal_policy_insert;
DROP TRIGGER pay_journal_assignment_delete;
DROP TRIGGER pay_journal_assignment_update;
DROP TRIGGER pay_journal_assignment_insert;
DROP TRIGGER pay_journal_person_update;
DROP TRIGGER pay_journal_person_insert;
DROP TRIGGER pay_journal_shift_delete;
DROP TRIGGER pay_journal_shift_update;
DROP TRIGGER pay_journal_shift_insert;
DROP TRIGGER pay_journal_response_delete;
DROP TRIGGER pay_journal_response_update;
DROP TRIGGER pay_journal_response_insert;
DROP TRIGGER pay_journal_page_delete;
DROP TRIGGER pay_journal_page_update;
DROP TRIGGER pay_journal_page_insert;
DROP INDEX ledger_entries_person_occurred;
DROP INDEX shifts_start_at;
DROP TABLE pay_journal;
