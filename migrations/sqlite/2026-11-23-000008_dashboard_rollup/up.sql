-- The dashboard's per-day rollup (issue #8): what the debt report and the health signals
-- read instead of every page of the range. A day is the UTC day of the pages' triggered_at,
-- as days since 1970-01-01. Money is integer minor units of the row's currency, each page's
-- parts rounded once as the debt model rounds them, so sums of rows are sums of pages.
-- Rows are rewritten a whole day at a time by `paydown::rollup`; the triggers below only
-- mark days dirty.

-- Days whose facts changed since their rows were computed. `seq` never repeats, so the
-- recomputation deletes exactly the marks it saw: a mark made meanwhile survives.
CREATE TABLE rollup_dirty (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    day BIGINT NOT NULL
);
CREATE INDEX rollup_dirty_day ON rollup_dirty(day);

-- What the rows were computed with (people's zones and costs, owners, cost settings):
-- a different fingerprint marks every day dirty.
CREATE TABLE rollup_state (
    id TEXT PRIMARY KEY NOT NULL CHECK (id = 'rollup'),
    fingerprint TEXT NOT NULL
);

-- Debt per (day, team, service, alert key, currency): counts and the four parts.
CREATE TABLE rollup_debt (
    day BIGINT NOT NULL,
    month TEXT NOT NULL,
    team TEXT,
    service TEXT NOT NULL,
    alert_key TEXT,
    currency TEXT NOT NULL,
    pages BIGINT NOT NULL,
    night_pages BIGINT NOT NULL,
    out_of_hours_pages BIGINT NOT NULL,
    non_actionable_pages BIGINT NOT NULL,
    answered_pages BIGINT NOT NULL,
    paid_minor BIGINT NOT NULL,
    responder_time_minor BIGINT NOT NULL,
    interruption_overhead_minor BIGINT NOT NULL,
    recovery_minor BIGINT NOT NULL,
    -- The largest decimal scale among the summed parts: the direct computation's sums of
    -- `Decimal`s keep the largest scale of their terms ("0" for nothing paid, "0.00" for a
    -- zero amount), and the rollup's figures are the same to the byte.
    paid_scale BIGINT NOT NULL,
    responder_time_scale BIGINT NOT NULL,
    interruption_overhead_scale BIGINT NOT NULL,
    recovery_scale BIGINT NOT NULL
);
CREATE INDEX rollup_debt_day ON rollup_debt(day);

-- Pages per (day, team, service, alert key), whatever their debt: noisy alerts, un-owned.
CREATE TABLE rollup_pages (
    day BIGINT NOT NULL,
    team TEXT,
    service TEXT NOT NULL,
    alert_key TEXT,
    pages BIGINT NOT NULL,
    answered_pages BIGINT NOT NULL,
    non_actionable_pages BIGINT NOT NULL
);
CREATE INDEX rollup_pages_day ON rollup_pages(day);

-- The same sums per calendar month (`YYYY-MM`), from the day rows: a year's read sums 12
-- months of rows and the days of partial months. A month is re-summed after any of its days
-- is recomputed (`rollup_dirty_months`, written only under the recomputation lock).
CREATE TABLE rollup_debt_months (
    month TEXT NOT NULL,
    team TEXT,
    service TEXT NOT NULL,
    alert_key TEXT,
    currency TEXT NOT NULL,
    pages BIGINT NOT NULL,
    night_pages BIGINT NOT NULL,
    out_of_hours_pages BIGINT NOT NULL,
    non_actionable_pages BIGINT NOT NULL,
    answered_pages BIGINT NOT NULL,
    paid_minor BIGINT NOT NULL,
    responder_time_minor BIGINT NOT NULL,
    interruption_overhead_minor BIGINT NOT NULL,
    recovery_minor BIGINT NOT NULL,
    paid_scale BIGINT NOT NULL,
    responder_time_scale BIGINT NOT NULL,
    interruption_overhead_scale BIGINT NOT NULL,
    recovery_scale BIGINT NOT NULL
);
CREATE INDEX rollup_debt_months_month ON rollup_debt_months(month);

CREATE TABLE rollup_pages_months (
    month TEXT NOT NULL,
    team TEXT,
    service TEXT NOT NULL,
    alert_key TEXT,
    pages BIGINT NOT NULL,
    answered_pages BIGINT NOT NULL,
    non_actionable_pages BIGINT NOT NULL
);
CREATE INDEX rollup_pages_months_month ON rollup_pages_months(month);

CREATE TABLE rollup_dirty_months (
    month TEXT PRIMARY KEY NOT NULL
);

-- Pages acknowledged per (day, person), out of hours and at night in that person's zone.
CREATE TABLE rollup_people (
    day BIGINT NOT NULL,
    person TEXT NOT NULL,
    pages BIGINT NOT NULL,
    out_of_hours_pages BIGINT NOT NULL,
    night_pages BIGINT NOT NULL
);
CREATE INDEX rollup_people_day ON rollup_people(day);

-- The local nights (YYYY-MM-DD of the evening) on which a person acknowledged a night page.
CREATE TABLE rollup_bad_nights (
    day BIGINT NOT NULL,
    person TEXT NOT NULL,
    night TEXT NOT NULL
);
CREATE INDEX rollup_bad_nights_day ON rollup_bad_nights(day);

-- Responders without a loaded cost, per (day, page team).
CREATE TABLE rollup_missing_rates (
    day BIGINT NOT NULL,
    team TEXT,
    person TEXT NOT NULL
);
CREATE INDEX rollup_missing_rates_day ON rollup_missing_rates(day);

-- Time to acknowledge and to resolve per (day, dimension, key): histograms
-- (`domain::histogram`), exact below 256 s and within 1/128 of the value above.
CREATE TABLE rollup_response_times (
    day BIGINT NOT NULL,
    dimension TEXT NOT NULL,
    key TEXT NOT NULL,
    ack BLOB NOT NULL,
    resolve BLOB NOT NULL
);
CREATE INDEX rollup_response_times_day ON rollup_response_times(day);

-- Marking: a page, a response or a ledger line of a page marks the page's day. On SQLite
-- writers are serialised and a day is recomputed inside one write transaction, so one
-- mark per day is enough (and keeps a bulk import's marks to one row per day).
CREATE TRIGGER rollup_mark_page_insert AFTER INSERT ON pages BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(NEW.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_page_update AFTER UPDATE OF service_key, alert_key, lane, triggered_at, acknowledged_at, acknowledged_by, resolved_at ON pages BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(OLD.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(NEW.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_page_delete AFTER DELETE ON pages BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date(OLD.triggered_at)) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_response_insert AFTER INSERT ON responses BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = NEW.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_response_update AFTER UPDATE ON responses BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = OLD.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = NEW.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_response_delete AFTER DELETE ON responses BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = OLD.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;
CREATE TRIGGER rollup_mark_ledger_insert AFTER INSERT ON ledger_entries WHEN NEW.page_id IS NOT NULL BEGIN
    INSERT INTO rollup_dirty(day) SELECT d FROM (SELECT CAST(julianday(date((SELECT triggered_at FROM pages WHERE id = NEW.page_id))) - 2440587.5 AS INTEGER) AS d) WHERE d IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = d);
END;

-- Every day that has pages starts dirty.
INSERT INTO rollup_dirty(day) SELECT DISTINCT CAST(julianday(date(triggered_at)) - 2440587.5 AS INTEGER) FROM pages;
