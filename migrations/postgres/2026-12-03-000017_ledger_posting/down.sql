DROP TRIGGER accrual_runs_kept ON accrual_runs;
DROP FUNCTION accrual_runs_kept();
DROP TRIGGER people_keep_the_paid ON people;
DROP FUNCTION people_keep_the_paid();
DROP TRIGGER ledger_entries_check_posting ON ledger_entries;
DROP FUNCTION ledger_entries_check_posting();
ALTER TABLE ledger_entries
    ADD CONSTRAINT ledger_entries_person_id_fkey FOREIGN KEY (person_id) REFERENCES people(id),
    ADD CONSTRAINT ledger_entries_period_id_fkey FOREIGN KEY (period_id) REFERENCES pay_periods(id),
    ADD CONSTRAINT ledger_entries_natural_period_id_fkey FOREIGN KEY (natural_period_id) REFERENCES pay_periods(id),
    ADD CONSTRAINT ledger_entries_accrual_run_id_fkey FOREIGN KEY (accrual_run_id) REFERENCES accrual_runs(id);
CREATE FUNCTION ledger_entries_open_period_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM pay_periods WHERE id = NEW.period_id AND status = 'open' FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pay period % is closed or unknown: nothing may be posted into it', NEW.period_id;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER ledger_entries_open_period_only BEFORE INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_open_period_only();
CREATE INDEX ledger_entries_reverses ON ledger_entries(reverses_entry_id);
CREATE TRIGGER rollup_mark_ledger_insert AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_page_facts();
