DROP TABLE adjustments;
DROP TABLE pay_run_steps;
DROP FUNCTION pay_run_records_append_only();
