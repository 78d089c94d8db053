CREATE TEMP TABLE IF NOT EXISTS tmp_point_awards (
  user_id       text NOT NULL,
  points        integer NOT NULL,
  activity_type text NOT NULL,
  source_id     text NOT NULL,
  origin_id     text,
  metadata      jsonb,
  "timestamp"   timestamptz NOT NULL
) ON COMMIT DROP
