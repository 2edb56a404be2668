-- Issue 15: the posting marks the dashboard days of its entries once
-- (`storage::ledger::insert_entries`), on both backends, so the statement trigger that did
-- it here goes; entries are written by that function only, now with COPY.
DROP TRIGGER rollup_mark_ledger_insert ON ledger_entries;

-- Nothing reads entries by the entry they reverse, and entries are never deleted.
DROP INDEX ledger_entries_reverses;

-- Each entry used to run a PL/pgSQL row trigger (its period open?) and four foreign-key
-- checks (person, period, natural period, accrual run), each a look-up that share-locks
-- the parent row: together more than half of a posting's time on the server. One
-- statement-level check of the posting's rows does the same for a whole COPY: every
-- period posted into is open (share-locked, so a concurrent close waits for this posting
-- to commit, and a posting that waited for a close sees it closed and is refused), and
-- every person, natural period and accrual run named exists. What the foreign keys also
-- gave, that a referenced row is never deleted, the guards below keep (periods were
-- already never deleted).
DROP TRIGGER ledger_entries_open_period_only ON ledger_entries;
DROP FUNCTION ledger_entries_open_period_only();
ALTER TABLE ledger_entries
    DROP CONSTRAINT ledger_entries_person_id_fkey,
    DROP CONSTRAINT ledger_entries_period_id_fkey,
    DROP CONSTRAINT ledger_entries_natural_period_id_fkey,
    DROP CONSTRAINT ledger_entries_accrual_run_id_fkey;

CREATE FUNCTION ledger_entries_check_posting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    periods_named BIGINT;
    periods_open BIGINT;
BEGIN
    SELECT count(DISTINCT period_id) INTO periods_named FROM new_rows;
    SELECT count(*) INTO periods_open FROM (
        SELECT p.id FROM pay_periods p
        WHERE p.id IN (SELECT period_id FROM new_rows) AND p.status = 'open'
        FOR SHARE
    ) AS locked;
    IF periods_open <> periods_named THEN
        RAISE EXCEPTION 'pay period is closed or unknown: nothing may be posted into it';
    END IF;
    IF EXISTS (
        SELECT 1 FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM people x WHERE x.id = n.person_id)
           OR NOT EXISTS (SELECT 1 FROM pay_periods p WHERE p.id = n.natural_period_id)
           OR NOT EXISTS (SELECT 1 FROM accrual_runs r WHERE r.id = n.accrual_run_id)
    ) THEN
        RAISE EXCEPTION 'a ledger entry names an unknown person, natural period or accrual run';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_check_posting AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_check_posting();

CREATE FUNCTION people_keep_the_paid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entries WHERE person_id = OLD.id) THEN
        RAISE EXCEPTION 'person % has ledger entries and is never deleted', OLD.id;
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER people_keep_the_paid BEFORE DELETE ON people FOR EACH ROW EXECUTE FUNCTION people_keep_the_paid();

CREATE FUNCTION accrual_runs_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accrual runs are never deleted';
END $$;
CREATE TRIGGER accrual_runs_kept BEFORE DELETE OR TRUNCATE ON accrual_runs
    FOR EACH STATEMENT EXECUTE FUNCTION accrual_runs_kept();
