DROP INDEX ledger_entries_period_person;
CREATE INDEX ledger_entries_period ON ledger_entries(period_id);
CREATE INDEX ledger_entries_person_period ON ledger_entries(person_id, period_id);
