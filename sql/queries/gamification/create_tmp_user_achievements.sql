CREATE TEMP TABLE IF NOT EXISTS tmp_user_achievements (
  user_id        text NOT NULL,
  achievement_id text NOT NULL,
  earned_at      timestamptz NOT NULL
) ON COMMIT DROP
