DROP TABLE rollup_day_versions;
