CREATE INDEX pages_acknowledged_by ON pages(acknowledged_by);
DROP INDEX pages_acknowledged_by_triggered_at;
