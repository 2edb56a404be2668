-- Foundation: teams, people, services, shifts, pages, page deliveries, responses.
-- Times are UTC, stored as TIMESTAMP (without zone: UTC by convention, microsecond precision).
-- Money is integer minor units (BIGINT), never REAL: SQLite has no exact decimal.

CREATE TABLE teams (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    cost_centre TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE people (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    payroll_id TEXT NOT NULL UNIQUE,
    team_id TEXT REFERENCES teams(id),
    timezone TEXT NOT NULL,
    currency TEXT NOT NULL,
    loaded_cost_minor_per_hour BIGINT,
    working_hours TEXT NOT NULL,
    holiday_calendar TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX people_team_id ON people(team_id);

CREATE TABLE services (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    team_id TEXT REFERENCES teams(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE shifts (
    id TEXT PRIMARY KEY NOT NULL,
    person_id TEXT NOT NULL REFERENCES people(id),
    role TEXT NOT NULL CHECK (role IN ('primary', 'secondary', 'backup')),
    schedule TEXT,
    start_at TIMESTAMP NOT NULL,
    end_at TIMESTAMP NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CHECK (end_at > start_at),
    UNIQUE (source, external_id)
);
CREATE INDEX shifts_person_start ON shifts(person_id, start_at);

CREATE TABLE pages (
    id TEXT PRIMARY KEY NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    service_key TEXT NOT NULL,
    title TEXT,
    alert_key TEXT,
    lane TEXT NOT NULL CHECK (lane IN ('wake', 'later')),
    triggered_at TIMESTAMP NOT NULL,
    acknowledged_at TIMESTAMP,
    acknowledged_by TEXT,
    resolved_at TIMESTAMP,
    described_at TIMESTAMP NOT NULL,
    delivery_count INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX pages_triggered_at ON pages(triggered_at);
CREATE INDEX pages_service_key ON pages(service_key);

CREATE TABLE page_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    page_id TEXT NOT NULL REFERENCES pages(id),
    received_at TIMESTAMP NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX page_deliveries_page_id ON page_deliveries(page_id);

CREATE TABLE responses (
    id TEXT PRIMARY KEY NOT NULL,
    page_id TEXT NOT NULL REFERENCES pages(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP NOT NULL,
    notes TEXT,
    actionable BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CHECK (ended_at >= started_at)
);
CREATE INDEX responses_page_id ON responses(page_id);
CREATE INDEX responses_person_started ON responses(person_id, started_at);
