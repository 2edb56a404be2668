DROP TRIGGER pay_journal_person_update;
CREATE TRIGGER pay_journal_person_update AFTER UPDATE OF timezone, working_hours, holiday_calendar, currency ON people
WHEN OLD.timezone IS NOT NEW.timezone OR OLD.working_hours IS NOT NEW.working_hours
  OR OLD.holiday_calendar IS NOT NEW.holiday_calendar OR OLD.currency IS NOT NEW.currency BEGIN
    INSERT INTO pay_journal(person_id, from_at) VALUES (NEW.id, '1970-01-01 00:00:00');
END;
DROP TRIGGER pay_journal_person_version_delete;
DROP TRIGGER pay_journal_person_version_update;
DROP TRIGGER pay_journal_person_version_insert;
DROP TABLE person_versions;
