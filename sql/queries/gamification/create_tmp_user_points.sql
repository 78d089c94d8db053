CREATE TEMP TABLE IF NOT EXISTS tmp_user_points (
  user_id        text PRIMARY KEY,
  total_points   integer NOT NULL,
  current_level  integer NOT NULL,
  current_streak integer NOT NULL,
  longest_streak integer NOT NULL
) ON COMMIT DROP
