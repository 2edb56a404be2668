-- Issue 15: which recomputation of a day wrote the day's rollup rows last. A recomputation
-- reads the day's version before its marks and its facts, and writes its rows only if the
-- version is still the one it read, then bumps it: of two recomputations of one day, the
-- one that read first never overwrites the other's newer rows. That check used to be
-- "every mark I read is still there", which also made the marks append-only; now a
-- posting on SQLite may replace a day's pending marks with one new mark
-- (`storage::rollup::mark_days`) instead of adding one more per posting (a year's first
-- accrual left 1,770,138 marks for 359 days, each posting touching one index page per day).
CREATE TABLE rollup_day_versions (
    day BIGINT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
