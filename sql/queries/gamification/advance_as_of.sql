-- The instant user_points is computed as of: the latest partition end the gamification ever
-- processed (a backfill of an earlier day never moves it back).
INSERT INTO pipeline_settings AS s (key, value, updated_at)
VALUES ('gamification_as_of', to_jsonb(CAST(:t AS timestamptz)), now())
ON CONFLICT (key) DO UPDATE SET
  value = to_jsonb(GREATEST((s.value #>> '{}')::timestamptz, (EXCLUDED.value #>> '{}')::timestamptz)),
  updated_at = now()
RETURNING (value #>> '{}')::timestamptz AS as_of
