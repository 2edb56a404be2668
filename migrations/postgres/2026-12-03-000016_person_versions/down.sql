CREATE OR REPLACE FUNCTION pay_journal_people() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP TRIGGER pay_journal_person_version_delete ON person_versions;
DROP TRIGGER pay_journal_person_version_update ON person_versions;
DROP TRIGGER pay_journal_person_version_insert ON person_versions;
DROP FUNCTION pay_journal_person_versions();
DROP TABLE person_versions;
