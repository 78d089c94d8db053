-- Engagement (engagement_analytics) as of T = :t in one statement, as a dbt user would write it.
-- Meaning: shared/design/analytics.md and docs/analytics.md ("Engagement"): learners with an
-- active enrollment at T; sessions over the events of (T-56d, T] ordered by (occurred_at,
-- duration), a new one after a gap of MORE than 30 minutes, length = last - first + the last
-- event's duration (null = 0), a session belongs to the week / window of its first event (mean
-- lengths over exact seconds, then minutes);
-- W = (T-28d, T]; score = round half up(100 (0.35 F + 0.25 D + 0.25 R + 0.15 B)). Events
-- known at T (occurred and ingested at or before T) and retained (occurred at or after :kept);
-- before that, the learner's retained activity summary; last_active NULL without any event.
WITH params AS (
  SELECT CAST(:t AS timestamptz) AS t, CAST(:kept AS timestamptz) AS kept
), active AS (
  -- user ids in the "C" collation from here on (byte order: the sorts, groupings and window
  -- partitions compare with memcmp and abbreviated keys instead of the database's C.UTF-8 strcoll;
  -- the same equality, so the same groups)
  SELECT e.user_id COLLATE "C" AS user_id, max(e.enrolled_at) AS last_enrolled
  FROM enrollments e CROSS JOIN params p
  WHERE e.enrolled_at <= p.t AND {sample:e.user_id}
    AND (e.completed_at IS NULL OR e.completed_at > p.t)
    AND (e.withdrawn_at IS NULL OR e.withdrawn_at > p.t)
  GROUP BY e.user_id COLLATE "C"
), ev AS (
  SELECT le.user_id COLLATE "C" AS user_id, le.occurred_at, coalesce(le.duration_seconds, 0)::float8 AS dur, le.content_type,
         extract(epoch FROM p.t - le.occurred_at)::float8 / 86400.0 AS age
  -- the active learners' ids as one array: one bitmap scan of the (user_id, occurred_at) index
  -- and each heap page once, instead of one index probe per learner (the sample predicate makes
  -- the planner see ~80 learners of ~3,000). No sample predicate of its own: the active learners
  -- are the sample's already, and with it the planner expected ~7 events and sorted the ~300k
  -- where it now hashes (the per-learner and per-session aggregates)
  FROM learning_events le CROSS JOIN params p
  WHERE le.user_id = ANY (ARRAY(SELECT user_id COLLATE "default" FROM active))
    AND le.occurred_at <= CAST(:t AS timestamptz) AND le.updated_at <= CAST(:t AS timestamptz)
    AND le.occurred_at >= CAST(:kept AS timestamptz)
), retired AS (
  SELECT a.user_id, s.last_event_at AS occurred_at, extract(epoch FROM p.t - s.last_event_at)::float8 / 86400.0 AS age
  FROM learner_activity_summary s JOIN active a ON a.user_id = s.user_id COLLATE "C" CROSS JOIN params p
  WHERE s.last_event_at <= p.t - interval '56 days' AND {sample:s.user_id}
), ever AS (
  SELECT user_id, max(occurred_at) AS last_at, min(age) AS last_age, min(age) FILTER (WHERE age >= 56) AS prior_age
  FROM (SELECT user_id, occurred_at, age FROM ev UNION ALL SELECT user_id, occurred_at, age FROM retired) x
  GROUP BY user_id
), recent AS (
  -- the session marks over the neighbours' times: the outer window takes the inner one's order
  -- (one sort of the recent events, not two)
  SELECT r.*,
         sum(CASE WHEN prev_at IS NULL OR occurred_at - prev_at > interval '30 minutes' THEN 1 ELSE 0 END)
           OVER (PARTITION BY user_id ORDER BY occurred_at, dur ROWS UNBOUNDED PRECEDING) AS session,
         next_at IS NULL OR next_at - occurred_at > interval '30 minutes' AS is_last
  FROM (
    SELECT ev.*, floor(age / 7)::int AS week,
           lag(occurred_at) OVER w AS prev_at, lead(occurred_at) OVER w AS next_at
    FROM ev WHERE age < 56
    WINDOW w AS (PARTITION BY user_id ORDER BY occurred_at, dur)
  ) r
), sessions AS (
  SELECT user_id, session, max(age) AS start_age,
         -- exact seconds (numeric): a mean of x.5 minutes must not depend on the summation order
         extract(epoch FROM max(CASE WHEN is_last THEN occurred_at + dur * interval '1 second' END) - min(occurred_at))
           AS seconds
  FROM recent GROUP BY user_id, session
), s_stats AS (
  SELECT user_id, floor(start_age / 7)::int AS week, count(*) AS n, avg(seconds) / 60 AS mean_minutes
  FROM sessions GROUP BY user_id, floor(start_age / 7)::int
), cells AS (
  -- one row per learner, week and content type (hashed, no sort of the recent events): the
  -- distinct types are then counted over these few rows
  SELECT user_id, week, content_type, min(age) AS min_age
  FROM recent GROUP BY user_id, week, content_type
), e_stats AS (
  SELECT user_id, week, count(content_type) AS n_types, min(min_age) AS min_age
  FROM cells GROUP BY user_id, week
), w_sessions AS (
  SELECT user_id, count(*) AS n, avg(seconds) / 60 AS mean_minutes
  FROM sessions WHERE start_age < 28 GROUP BY user_id
), w_types AS (
  -- the types with an event of W (age < 28): the cells whose youngest event is in W
  SELECT user_id, count(DISTINCT content_type) AS n_types FROM cells WHERE min_age < 28 GROUP BY user_id
), w_time AS (
  SELECT user_id, jsonb_object_agg(ctype, round((seconds / total)::numeric, 4)::float8) AS by_type
  FROM (
    SELECT user_id, coalesce(content_type, 'unknown') AS ctype, sum(dur) AS seconds,
           sum(sum(dur)) OVER (PARTITION BY user_id) AS total
    FROM recent WHERE age < 28 GROUP BY user_id, coalesce(content_type, 'unknown')
  ) t
  WHERE seconds > 0
  GROUP BY user_id
), weeks AS (
  SELECT a.user_id, k.k,
         coalesce(ss.n, 0) AS n, floor(coalesce(ss.mean_minutes, 0) + 0.5) AS minutes,
         coalesce(es.n_types, 0) AS n_types,
         least(min(es.min_age) OVER (PARTITION BY a.user_id ORDER BY k.k DESC ROWS UNBOUNDED PRECEDING),
               coalesce(ev.prior_age, 'Infinity'::float8)) - 7 * k.k AS days_since
  FROM active a
  CROSS JOIN generate_series(0, 7) AS k(k)
  LEFT JOIN s_stats ss ON ss.user_id = a.user_id AND ss.week = k.k
  LEFT JOIN e_stats es ON es.user_id = a.user_id AND es.week = k.k
  LEFT JOIN ever ev ON ev.user_id = a.user_id
), weekly AS (
  SELECT user_id, k,
         floor(100.0 * (0.35 * least(n / 5.0, 1.0) + 0.25 * least(minutes / 60.0, 1.0)
                        + 0.25 * CASE WHEN days_since = 'Infinity'::float8 THEN 0.0 ELSE power(0.5, days_since / 7.0) END
                        + 0.15 * least(n_types / 5.0, 1.0)) + 0.5)::int AS score
  FROM weeks
), trend AS (
  SELECT user_id,
         jsonb_agg(score ORDER BY k DESC) AS weekly_trend,
         sum(score) FILTER (WHERE k < 2) AS recent_sum,
         sum(score) FILTER (WHERE k IN (2, 3)) AS previous_sum
  FROM weekly GROUP BY user_id
), base AS (
  SELECT a.user_id,
         round(coalesce(ws.n, 0) / 4.0, 2)::float8 AS sessions_per_week,
         floor(coalesce(ws.mean_minutes, 0) + 0.5)::int AS avg_session_duration,
         coalesce(wt.n_types, 0) AS n_types,
         ev.last_age,
         ev.last_at AS last_active,
         coalesce(wm.by_type, '{}'::jsonb) AS engagement_by_type
  FROM active a
  LEFT JOIN w_sessions ws USING (user_id)
  LEFT JOIN w_types wt USING (user_id)
  LEFT JOIN ever ev USING (user_id)
  LEFT JOIN w_time wm USING (user_id)
)
SELECT b.user_id,
       floor(100.0 * (0.35 * least(b.sessions_per_week / 5.0, 1.0) + 0.25 * least(b.avg_session_duration / 60.0, 1.0)
                      + 0.25 * CASE WHEN b.last_age IS NULL THEN 0.0 ELSE power(0.5, b.last_age / 7.0) END
                      + 0.15 * least(b.n_types / 5.0, 1.0)) + 0.5)::int AS overall_score,
       CASE WHEN tr.previous_sum = 0 THEN CASE WHEN tr.recent_sum > 0 THEN 'rising' ELSE 'stable' END
            WHEN (tr.recent_sum - tr.previous_sum) * 100.0 / tr.previous_sum > 10 THEN 'rising'
            WHEN (tr.recent_sum - tr.previous_sum) * 100.0 / tr.previous_sum < -10 THEN 'falling'
            ELSE 'stable' END AS trend,
       b.sessions_per_week,
       b.avg_session_duration,
       b.last_active,
       b.engagement_by_type,
       tr.weekly_trend
FROM base b JOIN trend tr USING (user_id)
