-- Issue #18, items 5 and 6.
--
-- Exchange rates finance keeps for management figures (debt report, dashboard): one unit
-- of `currency` is worth `rate` units of `to_currency` from `effective_from` on. Append-only:
-- a correction is a new row; for one (currency, to_currency, effective_from) the row recorded
-- last wins. The rate is an exact decimal kept as text (never a float). Payroll never reads it.
CREATE TABLE exchange_rates (
    id TEXT PRIMARY KEY NOT NULL,
    currency TEXT NOT NULL,
    to_currency TEXT NOT NULL,
    rate TEXT NOT NULL,
    effective_from DATE NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    CHECK (currency <> to_currency)
);
CREATE INDEX exchange_rates_pair ON exchange_rates (currency, to_currency, effective_from);

-- The organisation's reporting currency: one row, absent until finance sets it (then
-- management figures stay in their own currencies).
CREATE TABLE reporting_settings (
    id TEXT PRIMARY KEY NOT NULL CHECK (id = 'organisation'),
    reporting_currency TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Every payroll export of a period: who, when, in which layout and format, and exactly which
-- ledger entries it held (count, SHA-256 of their sorted ids, and the ids themselves), so that
-- "what was posted to the period since its last export" is exact whatever the clocks say.
CREATE TABLE payroll_exports (
    id TEXT PRIMARY KEY NOT NULL,
    period_id TEXT NOT NULL REFERENCES pay_periods (id),
    layout TEXT NOT NULL,
    format TEXT NOT NULL,
    entry_count BIGINT NOT NULL,
    entries_sha256 TEXT NOT NULL,
    exported_by TEXT NOT NULL,
    exported_at TIMESTAMP NOT NULL
);
CREATE INDEX payroll_exports_period ON payroll_exports (period_id, exported_at);

CREATE TABLE payroll_export_entries (
    export_id TEXT NOT NULL REFERENCES payroll_exports (id),
    entry_id TEXT NOT NULL,
    PRIMARY KEY (export_id, entry_id)
);
