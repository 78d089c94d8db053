-- What the last update_user_points run recorded (user_points_record_run.sql), with its age.
SELECT (value ->> 'as_of')::timestamptz AS as_of, value ->> 'fingerprint' AS fingerprint,
       value ->> 'seen' AS seen, now() - (value ->> 'written_at')::timestamptz AS age
FROM pipeline_settings WHERE key = 'gamification_user_points_run'
