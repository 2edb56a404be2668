-- The reliability-debt cost model's settings (PRODUCT.md): a team's default loaded hourly
-- cost for responders without their own, and the organisation's interruption overhead and
-- catch-all default cost. Money as integer minor units of the named currency.
ALTER TABLE teams ADD COLUMN default_cost_currency TEXT;
ALTER TABLE teams ADD COLUMN default_cost_minor_per_hour BIGINT;

CREATE TABLE cost_settings (
    id TEXT PRIMARY KEY NOT NULL CHECK (id = 'organisation'),
    interruption_overhead_minutes TEXT NOT NULL,
    default_cost_currency TEXT,
    default_cost_minor_per_hour BIGINT,
    updated_at TIMESTAMP NOT NULL
);
