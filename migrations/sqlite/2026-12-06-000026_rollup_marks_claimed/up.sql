-- Issue 15: a recomputation of a dashboard day claims the day's marks before it reads the
-- day's facts. A change that finds an unclaimed mark of its day needs no mark of its own:
-- the recomputation that claims that mark will read the change. A first accrual's
-- postings each re-marked about a year of days (a delete and an insert per day per
-- person), 4 % of its posting thread at 1,000,000 pages; now they mark nothing that is
-- already waiting.
ALTER TABLE rollup_dirty ADD COLUMN claimed BOOLEAN NOT NULL DEFAULT 0;
