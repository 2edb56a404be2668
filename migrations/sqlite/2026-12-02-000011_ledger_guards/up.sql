-- Issue 17: no rewrite of the ledger through SQLite's REPLACE. `INSERT OR REPLACE`,
-- `REPLACE INTO` and a conflicting UPSERT delete the row in the way without firing DELETE
-- triggers, so the existing no-update / no-delete triggers alone let an entry's amount be
-- changed and a closed period be reopened. BEFORE INSERT triggers fire before any conflict
-- is resolved, whatever the statement's conflict clause.

-- An entry id, or a line's (line_key, revision, kind), is posted once: a second insert of
-- either is refused, however it is spelled.
CREATE TRIGGER ledger_entries_insert_once BEFORE INSERT ON ledger_entries
WHEN EXISTS (
    SELECT 1 FROM ledger_entries
    WHERE id = NEW.id
       OR (line_key = NEW.line_key AND revision = NEW.revision AND entry_kind = NEW.entry_kind)
)
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only: an entry is never replaced');
END;

-- A period row is written once: inserting an existing period's id leaves the row as it is
-- (RAISE(IGNORE) skips the row, so `INSERT ... ON CONFLICT DO NOTHING`, which accrual uses
-- to make sure a period exists, keeps working, and REPLACE or an UPSERT changes nothing).
-- A period changes only by UPDATE, which the earlier triggers refuse once it is closed.
CREATE TRIGGER pay_periods_insert_once BEFORE INSERT ON pay_periods
WHEN EXISTS (SELECT 1 FROM pay_periods WHERE id = NEW.id)
BEGIN
    SELECT RAISE(IGNORE);
END;

-- The audit log is append-only too.
CREATE TRIGGER audit_log_insert_once BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: a record is never replaced');
END;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: a record never changes');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: a record is never deleted');
END;
