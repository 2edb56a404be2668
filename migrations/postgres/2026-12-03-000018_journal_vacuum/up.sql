-- Issue 15: the pay journal is a queue: every row is deleted once its person is posted. A
-- year imported journals ~400,000 rows; after the first accrual they were all dead
-- tuples no autovacuum had reached (its default waits for 20 % of a table that was empty
-- when last analysed), and every idle pass of the worker scanned their 27 MB: 13.7 ms
-- at 1,000,000 pages instead of 0.3 ms at 100,000. Vacuum the journal after 1,000
-- deleted rows whatever its size, and do not let it be delayed by cost limits.
ALTER TABLE pay_journal SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 1000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0
);
