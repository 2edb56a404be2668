DROP TABLE payroll_export_entries;
DROP TABLE payroll_exports;
DROP TABLE reporting_settings;
DROP INDEX exchange_rates_pair;
DROP TABLE exchange_rates;
