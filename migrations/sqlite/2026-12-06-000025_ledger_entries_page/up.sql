-- Issue 15: the dashboard's rollup sums what was paid for each page of a day (and a range
-- report does for its partial days). Nothing led from a page to its ledger entries, so
-- each recomputed day read the whole ledger: 10.0 s for one day of a year of 1,000,000
-- pages (3,063,695 entries) on SQLite. A page's entries belong to the people who
-- acknowledged it or responded to it, so the read now goes from those (page, person)
-- pairs through this index. Keyed by person first: an accrual posts a person's entries
-- together, so they land side by side (an index on `page_id` alone scattered each
-- person's year over the whole index: the first accrual of that year fell from 108,000 to
-- 65,000 lines/s). Entries without a page (standby) are left out.
CREATE INDEX ledger_entries_person_page ON ledger_entries (person_id, page_id) WHERE page_id IS NOT NULL;
