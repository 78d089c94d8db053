-- The chunk's rows of pg_temp.predictive_cells (dropout_rollup_cells.sql).
SELECT user_id, course_id, first_at, last_at, n
FROM pg_temp.predictive_cells
WHERE user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
