DROP INDEX pages_acknowledged_by;
DROP TABLE identity_mappings;
