-- Nothing was done: see up.sql.
SELECT 1;
