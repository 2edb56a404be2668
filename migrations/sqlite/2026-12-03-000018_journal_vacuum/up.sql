-- PostgreSQL's migration of the same name tunes autovacuum for the pay journal. SQLite
-- reuses a deleted row's pages at once (they go to the freelist) and has no dead rows
-- for a scan to step over: nothing to do here.
SELECT 1;
