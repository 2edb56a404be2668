-- History-true people: a person's time zone, working hours, holiday calendar, team, cost
-- centre and loaded cost are effective from a local date, like policy assignments. The
-- people row keeps the latest version's values (what existing readers see); pricing reads
-- the versions. Everyone starts with one version from 1970-01-01 holding today's values.
-- `cost_centre` overrides the team's when set.
CREATE TABLE person_versions (
    person_id TEXT NOT NULL REFERENCES people(id),
    effective_from DATE NOT NULL,
    timezone TEXT NOT NULL,
    working_hours TEXT NOT NULL,
    holiday_calendar TEXT,
    team_id TEXT REFERENCES teams(id),
    cost_centre TEXT,
    loaded_cost_minor_per_hour BIGINT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (person_id, effective_from)
);

INSERT INTO person_versions(person_id, effective_from, timezone, working_hours, holiday_calendar, team_id,
                            cost_centre, loaded_cost_minor_per_hour, created_at)
SELECT id, '1970-01-01', timezone, working_hours, holiday_calendar, team_id, NULL, loaded_cost_minor_per_hour, created_at
FROM people;

-- A version re-prices from its date on: from the day before (a local midnight is at most
-- 14 h before the UTC one), as for policy assignments.
CREATE TRIGGER pay_journal_person_version_insert AFTER INSERT ON person_versions BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (NEW.person_id, date(NEW.effective_from, '-1 day') || ' 00:00:00');
END;
CREATE TRIGGER pay_journal_person_version_update AFTER UPDATE ON person_versions BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (OLD.person_id, date(MIN(OLD.effective_from, NEW.effective_from), '-1 day') || ' 00:00:00');
    INSERT INTO pay_journal(person_id, from_at) SELECT NEW.person_id, date(NEW.effective_from, '-1 day') || ' 00:00:00' WHERE NEW.person_id IS NOT OLD.person_id;
END;
CREATE TRIGGER pay_journal_person_version_delete AFTER DELETE ON person_versions BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (OLD.person_id, date(OLD.effective_from, '-1 day') || ' 00:00:00');
END;

-- The people row's zone, hours and calendar now only mirror the latest version: their
-- change reaches the ledger through the version. A new currency still re-prices all.
DROP TRIGGER pay_journal_person_update;
CREATE TRIGGER pay_journal_person_update AFTER UPDATE OF currency ON people
WHEN OLD.currency IS NOT NEW.currency BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (NEW.id, '1970-01-01 00:00:00');
END;
