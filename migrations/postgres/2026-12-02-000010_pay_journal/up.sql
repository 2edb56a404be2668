-- The pay journal: what became stale in the ledger, written in the same transaction as
-- the fact that changed, by triggers, so that every door (the API, the CLI beside a
-- running server, another server) reaches the ledger. A row names a person and the
-- earliest instant whose pay may have changed; the accrual worker re-prices that person
-- from there and deletes exactly the rows it saw. `problem` is set when the person could
-- not be priced: those rows wait for the next change of that person. Triggers are
-- statement-level (a bulk COPY writes one row per person, not per page).
CREATE TABLE pay_journal (
    seq BIGSERIAL PRIMARY KEY,
    person_id TEXT NOT NULL,
    from_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    problem TEXT
);
CREATE INDEX pay_journal_person ON pay_journal(person_id, seq);

CREATE INDEX shifts_start_at ON shifts(start_at);

-- A person's entries from an instant on: what a re-pricing compares with.
CREATE INDEX ledger_entries_person_occurred ON ledger_entries(person_id, occurred_at);

CREATE FUNCTION pay_journal_pages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO pay_journal(person_id, from_at)
        SELECT acknowledged_by, MIN(triggered_at) FROM new_rows WHERE acknowledged_by IS NOT NULL GROUP BY acknowledged_by;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO pay_journal(person_id, from_at)
        SELECT acknowledged_by, MIN(triggered_at) FROM old_rows WHERE acknowledged_by IS NOT NULL GROUP BY acknowledged_by;
    ELSE
        INSERT INTO pay_journal(person_id, from_at)
        SELECT person, MIN(from_at) FROM (
            SELECT o.acknowledged_by AS person, LEAST(o.triggered_at, n.triggered_at) AS from_at, n.id
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.triggered_at IS DISTINCT FROM n.triggered_at OR o.acknowledged_at IS DISTINCT FROM n.acknowledged_at
               OR o.acknowledged_by IS DISTINCT FROM n.acknowledged_by OR o.resolved_at IS DISTINCT FROM n.resolved_at
            UNION ALL
            SELECT n.acknowledged_by, LEAST(o.triggered_at, n.triggered_at), n.id
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.triggered_at IS DISTINCT FROM n.triggered_at OR o.acknowledged_at IS DISTINCT FROM n.acknowledged_at
               OR o.acknowledged_by IS DISTINCT FROM n.acknowledged_by OR o.resolved_at IS DISTINCT FROM n.resolved_at
            UNION ALL
            SELECT r.person_id, LEAST(o.triggered_at, n.triggered_at), n.id
            FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN responses r ON r.page_id = n.id
            WHERE o.triggered_at IS DISTINCT FROM n.triggered_at OR o.acknowledged_at IS DISTINCT FROM n.acknowledged_at
               OR o.acknowledged_by IS DISTINCT FROM n.acknowledged_by OR o.resolved_at IS DISTINCT FROM n.resolved_at
        ) changed WHERE person IS NOT NULL GROUP BY person;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION pay_journal_responses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO pay_journal(person_id, from_at)
        SELECT person, MIN(from_at) FROM (
            SELECT r.person_id AS person, LEAST(r.started_at, COALESCE(p.triggered_at, r.started_at)) AS from_at
            FROM old_rows r LEFT JOIN pages p ON p.id = r.page_id
            UNION ALL
            SELECT p.acknowledged_by, LEAST(r.started_at, p.triggered_at)
            FROM old_rows r JOIN pages p ON p.id = r.page_id
        ) changed WHERE person IS NOT NULL GROUP BY person;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO pay_journal(person_id, from_at)
        SELECT person, MIN(from_at) FROM (
            SELECT r.person_id AS person, LEAST(r.started_at, COALESCE(p.triggered_at, r.started_at)) AS from_at
            FROM new_rows r LEFT JOIN pages p ON p.id = r.page_id
            UNION ALL
            SELECT p.acknowledged_by, LEAST(r.started_at, p.triggered_at)
            FROM new_rows r JOIN pages p ON p.id = r.page_id
        ) changed WHERE person IS NOT NULL GROUP BY person;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION pay_journal_shifts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO pay_journal(person_id, from_at) SELECT person_id, MIN(start_at) FROM old_rows GROUP BY person_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO pay_journal(person_id, from_at) SELECT person_id, MIN(start_at) FROM new_rows GROUP BY person_id;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION pay_journal_people() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO pay_journal(person_id, from_at) SELECT id, TIMESTAMP '1970-01-01' FROM new_rows;
    ELSE
        INSERT INTO pay_journal(person_id, from_at)
        SELECT n.id, TIMESTAMP '1970-01-01' FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.timezone IS DISTINCT FROM n.timezone OR o.working_hours IS DISTINCT FROM n.working_hours
           OR o.holiday_calendar IS DISTINCT FROM n.holiday_calendar OR o.currency IS DISTINCT FROM n.currency;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION pay_journal_assignments() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE FUNCTION pay_journal_policies() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pay_journal(person_id, from_at)
    SELECT a.person_id, MIN(n.effective_from) - INTERVAL '1 day'
    FROM new_rows n JOIN policy_assignments a ON a.policy_id = n.id GROUP BY a.person_id;
    RETURN NULL;
END $$;

CREATE TRIGGER pay_journal_page_insert AFTER INSERT ON pages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_pages();
CREATE TRIGGER pay_journal_page_update AFTER UPDATE ON pages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_pages();
CREATE TRIGGER pay_journal_page_delete AFTER DELETE ON pages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_pages();
CREATE TRIGGER pay_journal_response_insert AFTER INSERT ON responses
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_responses();
CREATE TRIGGER pay_journal_response_update AFTER UPDATE ON responses
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_responses();
CREATE TRIGGER pay_journal_response_delete AFTER DELETE ON responses
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_responses();
CREATE TRIGGER pay_journal_shift_insert AFTER INSERT ON shifts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_shifts();
CREATE TRIGGER pay_journal_shift_update AFTER UPDATE ON shifts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_shifts();
CREATE TRIGGER pay_journal_shift_delete AFTER DELETE ON shifts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_shifts();
CREATE TRIGGER pay_journal_person_insert AFTER INSERT ON people
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_people();
CREATE TRIGGER pay_journal_person_update AFTER UPDATE ON people
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_people();
CREATE TRIGGER pay_journal_assignment_insert AFTER INSERT ON policy_assignments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_assignments();
CREATE TRIGGER pay_journal_assignment_update AFTER UPDATE ON policy_assignments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_assignments();
CREATE TRIGGER pay_journal_assignment_delete AFTER DELETE ON policy_assignments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_assignments();
CREATE TRIGGER pay_journal_policy_insert AFTER INSERT ON pay_policies
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pay_journal_policies();

INSERT INTO pay_journal(person_id, from_at) SELECT id, TIMESTAMP '1970-01-01' FROM people;
