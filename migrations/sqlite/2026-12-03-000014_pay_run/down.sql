DROP TRIGGER adjustments_insert_once;
DROP TRIGGER adjustments_append_only_delete;
DROP TRIGGER adjustments_append_only_update;
DROP TRIGGER pay_run_steps_insert_once;
DROP TRIGGER pay_run_steps_append_only_delete;
DROP TRIGGER pay_run_steps_append_only_update;
DROP TABLE adjustments;
DROP TABLE pay_run_steps;
