-- The ledger: pay periods, accrual runs, and append-only entries.
-- The database itself refuses to change or remove an entry, to post into a closed
-- period, and to reopen a closed period.

CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE pay_periods (
    id TEXT PRIMARY KEY NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    closed_at TIMESTAMP,
    closed_by TEXT,
    created_at TIMESTAMP NOT NULL,
    CHECK (ends_on > starts_on)
);

CREATE TABLE accrual_runs (
    id TEXT PRIMARY KEY NOT NULL,
    actor TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    entries_posted INTEGER NOT NULL
);

CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY NOT NULL,
    accrual_run_id TEXT NOT NULL REFERENCES accrual_runs(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    period_id TEXT NOT NULL REFERENCES pay_periods(id),
    natural_period_id TEXT NOT NULL REFERENCES pay_periods(id),
    entry_kind TEXT NOT NULL CHECK (entry_kind IN ('line', 'reversal')),
    line_key TEXT NOT NULL,
    revision INTEGER NOT NULL,
    reverses_entry_id TEXT REFERENCES ledger_entries(id),
    terms TEXT NOT NULL,
    component TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit TEXT NOT NULL,
    unit_rate TEXT NOT NULL,
    multiplier TEXT NOT NULL,
    time_class TEXT,
    day_class TEXT,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    fact_kind TEXT NOT NULL,
    fact_id TEXT NOT NULL,
    page_id TEXT,
    policy_id TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    explanation TEXT NOT NULL,
    posted_at TIMESTAMP NOT NULL,
    posted_by TEXT NOT NULL,
    UNIQUE (line_key, revision, entry_kind)
);
CREATE INDEX ledger_entries_person_period ON ledger_entries(person_id, period_id);
CREATE INDEX ledger_entries_period ON ledger_entries(period_id);
CREATE INDEX ledger_entries_reverses ON ledger_entries(reverses_entry_id);

-- Entries are append-only: UPDATE, DELETE and TRUNCATE are refused.
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: post a reversal instead of changing or deleting an entry';
END;
$$;
CREATE TRIGGER ledger_entries_no_update_or_delete BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();

-- Nothing is posted into a closed period. The period row is read FOR SHARE, so a
-- concurrent close waits for this posting to commit, and a posting that waited for a
-- close sees the period closed and is refused.
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

-- A closed period never changes and no period is deleted.
CREATE FUNCTION pay_periods_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'pay periods are never deleted';
    END IF;
    IF OLD.status = 'closed' THEN
        RAISE EXCEPTION 'a closed pay period never changes';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER pay_periods_frozen BEFORE UPDATE OR DELETE ON pay_periods
    FOR EACH ROW EXECUTE FUNCTION pay_periods_frozen();
