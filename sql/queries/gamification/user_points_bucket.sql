-- Totals and streaks of the learners of one hash bucket (of tmp_user_points_learners: everyone or
-- the changed ones, user_points_learners.sql), set-based, as of :as_of.
-- total_points = SUM over the ledger (never incremented), so re-runs and backfills cannot
-- count anything twice. Streaks from the ledger's daily awards (local days): the run containing the
-- learner's latest day counts as current when that day is at most :grace days before
-- :as_of's local date; longest = the longest run. The local date of :as_of is taken just before
-- it: a partition's T is the first instant of the next UTC day, and "the day of T" is the day
-- that just ended (the learner active on D is on a current streak at the end of D).
WITH learners AS (
  SELECT user_id, tz FROM tmp_user_points_learners WHERE mod(abs(hashtext(user_id)), :buckets) = :bucket
), totals AS (
  SELECT pt.user_id, SUM(pt.points)::bigint AS total_points
  FROM point_transactions pt
  JOIN learners l ON l.user_id = pt.user_id
  WHERE pt."timestamp" <= :as_of
  GROUP BY pt.user_id
), active AS (
  -- the active local days: the ledger's daily awards (origin user_id:YYYY-MM-DD, timestamp = the
  -- day's first event), not daily_activity, whose rows retention deletes after 90 days: a
  -- learner's streaks must not shrink when their old days age out (an award is a ledger fact)
  SELECT pt.user_id, to_date(right(pt.source_id, 10), 'YYYY-MM-DD') AS date,
         ((CAST(:as_of AS timestamptz) - interval '1 microsecond') AT TIME ZONE l.tz)::date AS t_day
  FROM point_transactions pt
  JOIN learners l ON l.user_id = pt.user_id
  WHERE pt.activity_type = 'daily_first_activity' AND pt."timestamp" <= :as_of
), days AS (
  SELECT a.user_id, a.date, a.t_day,
         a.date - (row_number() OVER (PARTITION BY a.user_id ORDER BY a.date))::int AS run
  FROM active a
  WHERE a.date <= a.t_day
), runs AS (
  SELECT user_id, run, count(*) AS len, max(date) AS last_day, max(t_day) AS t_day
  FROM days GROUP BY user_id, run
), streaks AS (
  SELECT user_id,
         max(len) AS longest_streak,
         (array_agg(len ORDER BY last_day DESC))[1] AS latest_len,
         max(t_day) - max(last_day) AS gap_days
  FROM runs GROUP BY user_id
)
SELECT coalesce(t.user_id, s.user_id) AS user_id,
       coalesce(t.total_points, 0) AS total_points,
       CASE WHEN s.gap_days <= :grace THEN s.latest_len ELSE 0 END AS current_streak,
       coalesce(s.longest_streak, 0) AS longest_streak
FROM totals t
FULL JOIN streaks s ON s.user_id = t.user_id
