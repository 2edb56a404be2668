DROP TABLE cost_settings;
ALTER TABLE teams DROP COLUMN default_cost_minor_per_hour;
ALTER TABLE teams DROP COLUMN default_cost_currency;
