-- Where each `paydown sync <tool>` got to, per kind of record it reads (`incidents`,
-- `schedules`): the next run asks the tool only for what changed since `position`.
CREATE TABLE sync_cursors (
    source TEXT NOT NULL,
    resource TEXT NOT NULL,
    position TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, resource)
);
