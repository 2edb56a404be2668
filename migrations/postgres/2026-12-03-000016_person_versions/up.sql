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
SELECT id, DATE '1970-01-01', timezone, working_hours, holiday_calendar, team_id, NULL, loaded_cost_minor_per_hour, created_at
FROM people;

-- A version re-prices from its date on: from the day before (a local midnight is at most
-- 14 h before the UTC one), as for policy assignments.
CREATE FUNCTION pay_journal_person_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO pay_journal(person_id, from_at)
        SELECT person_id, MIN(effective_from) - INTERVAL '1 day' FROM old_rows GROUP BY person_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO pay_journal(person_id, from_at)
        SELECT person_id, MIN(effective_from) - INTERVAL '1 day' FROM new_rows GROUP BY person_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER pay_journal_person_version_insert AFTER INSERT ON person_versions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_person_versions();
CREATE TRIGGER pay_journal_person_version_update AFTER UPDATE ON person_versions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_person_versions();
CREATE TRIGGER pay_journal_person_version_delete AFTER DELETE ON person_versions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_person_versions();

-- The people row's zone, hours and calendar now only mirror the latest version: their
-- change reaches the ledger through the version. A new currency still re-prices all.
CREATE OR REPLACE FUNCTION pay_journal_people() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO pay_journal(person_id, from_at) SELECT id, TIMESTAMP '1970-01-01' FROM new_rows;
    ELSE
        INSERT INTO pay_journal(person_id, from_at)
        SELECT n.id, TIMESTAMP '1970-01-01' FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.currency IS DISTINCT FROM n.currency;
    END IF;
    RETURN NULL;
END $$;
