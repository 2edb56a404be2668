CREATE OR REPLACE FUNCTION ledger_entries_check_posting() RETURNS trigger LANGUAGE plpgsql AS $$
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
