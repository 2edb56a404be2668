ALTER TABLE rollup_dirty DROP COLUMN claimed;
