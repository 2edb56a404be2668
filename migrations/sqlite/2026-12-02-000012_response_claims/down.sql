ALTER TABLE responses DROP COLUMN supersedes;
ALTER TABLE responses DROP COLUMN decision_reason;
ALTER TABLE responses DROP COLUMN decided_at;
ALTER TABLE responses DROP COLUMN decided_by;
ALTER TABLE responses DROP COLUMN paid;
ALTER TABLE responses DROP COLUMN status;
