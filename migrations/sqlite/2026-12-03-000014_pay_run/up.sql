-- Issue 18: the pay run around a period (open -> approved -> closed), finance's manual
-- adjustments, and the payroll exports a period's "changes since the last export" are
-- measured from. All three are append-only: a step, an adjustment or an export is a
-- record of something that happened.

-- One row per step of a period's pay run. The state is the last step's, while the
-- period's entry count still equals `entries` (see `domain::pay_run::run_state`): a
-- posting after an approval lapses it.
CREATE TABLE pay_run_steps (
    id TEXT PRIMARY KEY NOT NULL,
    period_id TEXT NOT NULL REFERENCES pay_periods(id),
    step TEXT NOT NULL CHECK (step IN ('approve', 'reopen', 'close')),
    actor TEXT NOT NULL,
    token_id TEXT,
    person_id TEXT,
    reason TEXT NOT NULL,
    entries BIGINT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX pay_run_steps_period ON pay_run_steps(period_id, id);

-- A manual adjustment: its ledger entry (a `line` of component `manual_adjustment`) carries the
-- amount; this row carries what the ledger has no column for. `entry_id` has no foreign key:
-- both rows are written in one transaction, and a reference to `ledger_entries` would let
-- PostgreSQL refuse a TRUNCATE of the ledger for that reason before its append-only trigger
-- says why.
CREATE TABLE adjustments (
    id TEXT PRIMARY KEY NOT NULL,
    entry_id TEXT NOT NULL UNIQUE,
    person_id TEXT NOT NULL REFERENCES people(id),
    period_id TEXT NOT NULL REFERENCES pay_periods(id),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    earning_code TEXT,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX adjustments_period ON adjustments(period_id);

-- Payroll exports are recorded by migration 000015 (`payroll_exports`, entry by entry).

CREATE TRIGGER pay_run_steps_append_only_update BEFORE UPDATE ON pay_run_steps
BEGIN
    SELECT RAISE(ABORT, 'pay run steps are append-only');
END;
CREATE TRIGGER pay_run_steps_append_only_delete BEFORE DELETE ON pay_run_steps
BEGIN
    SELECT RAISE(ABORT, 'pay run steps are append-only');
END;
CREATE TRIGGER pay_run_steps_insert_once BEFORE INSERT ON pay_run_steps
WHEN EXISTS (SELECT 1 FROM pay_run_steps WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'pay run steps are append-only');
END;
CREATE TRIGGER adjustments_append_only_update BEFORE UPDATE ON adjustments
BEGIN
    SELECT RAISE(ABORT, 'adjustments are append-only: post another adjustment');
END;
CREATE TRIGGER adjustments_append_only_delete BEFORE DELETE ON adjustments
BEGIN
    SELECT RAISE(ABORT, 'adjustments are append-only: post another adjustment');
END;
CREATE TRIGGER adjustments_insert_once BEFORE INSERT ON adjustments
WHEN EXISTS (SELECT 1 FROM adjustments WHERE id = NEW.id OR entry_id = NEW.entry_id)
BEGIN
    SELECT RAISE(ABORT, 'adjustments are append-only: post another adjustment');
END;
