-- The latest T the gamification assets ever processed (advance_as_of.sql), or NULL on the first run.
SELECT CAST(value #>> '{}' AS timestamptz) FROM pipeline_settings WHERE key = 'gamification_as_of'
