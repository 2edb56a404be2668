-- The pay journal: what became stale in the ledger, written in the same transaction as
-- the fact that changed, by triggers, so that every door (the API, the CLI beside a
-- running server, another server) reaches the ledger. A row names a person and the
-- earliest instant whose pay may have changed; the accrual worker re-prices that person
-- from there and deletes exactly the rows it saw. `problem` is set when the person could
-- not be priced: those rows wait for the next change of that person.
CREATE TABLE pay_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id TEXT NOT NULL,
    from_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    problem TEXT
);
CREATE INDEX pay_journal_person ON pay_journal(person_id, seq);

-- Shifts by start, for the time-passage sweep (people on call around the horizon).
CREATE INDEX shifts_start_at ON shifts(start_at);

-- A person's entries from an instant on: what a re-pricing compares with.
CREATE INDEX ledger_entries_person_occurred ON ledger_entries(person_id, occurred_at);

-- Pages: the acknowledger, and everyone who logged a response on the page (the default
-- response of the acknowledger and the callouts depend on them).
CREATE TRIGGER pay_journal_page_insert AFTER INSERT ON pages WHEN NEW.acknowledged_by IS NOT NULL BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (NEW.acknowledged_by, NEW.triggered_at);
END;
CREATE TRIGGER pay_journal_page_update AFTER UPDATE OF triggered_at, acknowledged_at, acknowledged_by, resolved_at ON pages
WHEN OLD.triggered_at IS NOT NEW.triggered_at OR OLD.acknowledged_at IS NOT NEW.acknowledged_at
  OR OLD.acknowledged_by IS NOT NEW.acknowledged_by OR OLD.resolved_at IS NOT NEW.resolved_at BEGIN
    INSERT INTO pay_journal(person_id, from_at)
    SELECT person, MIN(OLD.triggered_at, NEW.triggered_at) FROM (
        SELECT OLD.acknowledged_by AS person UNION SELECT NEW.acknowledged_by
        UNION SELECT person_id FROM responses WHERE page_id = NEW.id
    ) WHERE person IS NOT NULL;
END;
CREATE TRIGGER pay_journal_page_delete AFTER DELETE ON pages WHEN OLD.acknowledged_by IS NOT NULL BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (OLD.acknowledged_by, OLD.triggered_at);
END;

-- Responses: their author, and the page's acknowledger (whose default response exists
-- only while nobody logged one), from the page's trigger (the callout) or the work's start.
CREATE TRIGGER pay_journal_response_insert AFTER INSERT ON responses BEGIN
    INSERT INTO pay_journal(person_id, from_at)
    SELECT person, MIN(NEW.started_at, COALESCE(p.triggered_at, NEW.started_at)) FROM (
        SELECT NEW.person_id AS person UNION SELECT acknowledged_by FROM pages WHERE id = NEW.page_id
    ) LEFT JOIN pages p ON p.id = NEW.page_id WHERE person IS NOT NULL;
END;
CREATE TRIGGER pay_journal_response_update AFTER UPDATE ON responses BEGIN
    INSERT INTO pay_journal(person_id, from_at)
    SELECT person, MIN(OLD.started_at, NEW.started_at, COALESCE(p.triggered_at, NEW.started_at)) FROM (
        SELECT OLD.person_id AS person UNION SELECT NEW.person_id
        UNION SELECT acknowledged_by FROM pages WHERE id = NEW.page_id
    ) LEFT JOIN pages p ON p.id = NEW.page_id WHERE person IS NOT NULL;
END;
CREATE TRIGGER pay_journal_response_delete AFTER DELETE ON responses BEGIN
    INSERT INTO pay_journal(person_id, from_at)
    SELECT person, MIN(OLD.started_at, COALESCE(p.triggered_at, OLD.started_at)) FROM (
        SELECT OLD.person_id AS person UNION SELECT acknowledged_by FROM pages WHERE id = OLD.page_id
    ) LEFT JOIN pages p ON p.id = OLD.page_id WHERE person IS NOT NULL;
END;

-- Shifts: their person, from the shift's start (standby lines sit at or after it).
CREATE TRIGGER pay_journal_shift_insert AFTER INSERT ON shifts BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (NEW.person_id, NEW.start_at);
END;
CREATE TRIGGER pay_journal_shift_update AFTER UPDATE ON shifts BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (OLD.person_id, MIN(OLD.start_at, NEW.start_at));
    INSERT INTO pay_journal(person_id, from_at) SELECT NEW.person_id, NEW.start_at WHERE NEW.person_id IS NOT OLD.person_id;
END;
CREATE TRIGGER pay_journal_shift_delete AFTER DELETE ON shifts BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (OLD.person_id, OLD.start_at);
END;

-- People: a new person may own facts delivered before they existed; a change of zone,
-- working hours, holiday calendar or currency re-prices all of their history.
CREATE TRIGGER pay_journal_person_insert AFTER INSERT ON people BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (NEW.id, '1970-01-01 00:00:00');
END;
CREATE TRIGGER pay_journal_person_update AFTER UPDATE OF timezone, working_hours, holiday_calendar, currency ON people
WHEN OLD.timezone IS NOT NEW.timezone OR OLD.working_hours IS NOT NEW.working_hours
  OR OLD.holiday_calendar IS NOT NEW.holiday_calendar OR OLD.currency IS NOT NEW.currency BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (NEW.id, '1970-01-01 00:00:00');
END;

-- Policy assignments and new policy versions: from the day before the effective date
-- (a local midnight is at most 14 h before the UTC one).
CREATE TRIGGER pay_journal_assignment_insert AFTER INSERT ON policy_assignments BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (NEW.person_id, date(NEW.effective_from, '-1 day') || ' 00:00:00');
END;
CREATE TRIGGER pay_journal_assignment_update AFTER UPDATE ON policy_assignments BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (OLD.person_id, date(MIN(OLD.effective_from, NEW.effective_from), '-1 day') || ' 00:00:00');
    INSERT INTO pay_journal(person_id, from_at) SELECT NEW.person_id, date(NEW.effective_from, '-1 day') || ' 00:00:00' WHERE NEW.person_id IS NOT OLD.person_id;
END;
CREATE TRIGGER pay_journal_assignment_delete AFTER DELETE ON policy_assignments BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (OLD.person_id, date(OLD.effective_from, '-1 day') || ' 00:00:00');
END;
CREATE TRIGGER pay_journal_policy_insert AFTER INSERT ON pay_policies BEGIN
    INSERT INTO pay_journal(person_id, from_at)
    SELECT DISTINCT person_id, date(NEW.effective_from, '-1 day') || ' 00:00:00' FROM policy_assignments WHERE policy_id = NEW.id;
END;

-- The rollup's marks become append-only on SQLite too (as on PostgreSQL): a day is
-- recomputed outside the write lock from facts read after its marks, and only the
-- marks it saw are deleted, so a write landing meanwhile must add a mark of its own
-- even when the day is already marked.
DROP TRIGGER rollup_mark_page_insert;
DROP TRIGGER rollup_mark_page_update;
DROP TRIGGER rollup_mark_page_delete;
DROP TRIGGER rollup_mark_response_insert;
DROP TRIGGER rollup_mark_response_update;
DROP TRIGGER rollup_mark_response_delete;
DROP TRIGGER rollup_mark_ledger_insert;
CREATE TRIGGER rollup_mark_page_insert AFTER INSERT ON pages BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(NEW.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL;
END;
CREATE TRIGGER rollup_mark_page_update AFTER UPDATE OF service_key, alert_key, lane, triggered_at, acknowledged_at, acknowledged_by, resolved_at ON pages BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(OLD.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL;
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(NEW.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL;
END;
CREATE TRIGGER rollup_mark_page_delete AFTER DELETE ON pages BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(OLD.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL;
END;
CREATE TRIGGER rollup_mark_response_insert AFTER INSERT ON responses BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = NEW.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL;
END;
CREATE TRIGGER rollup_mark_response_update AFTER UPDATE ON responses BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = OLD.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL;
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = NEW.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL;
END;
CREATE TRIGGER rollup_mark_response_delete AFTER DELETE ON responses BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = OLD.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL;
END;
CREATE TRIGGER rollup_mark_ledger_insert AFTER INSERT ON ledger_entries WHEN NEW.page_id IS NOT NULL BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = NEW.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL;
END;

-- Everyone starts stale: the first pass after this migration re-prices every person once.
INSERT INTO pay_journal(person_id, from_at) SELECT id, '1970-01-01 00:00:00' FROM people;
