-- Drop-off's scoring pass at T from the learner daily activity rollup (store.drop_off_run,
-- only when the rollup is exact for T and T is a UTC midnight), the events known at T of the
-- learners of pg_temp.predictive_learners summed over the content types, into
-- pg_temp.predictive_cells once for every chunk (one scan of the rollup; read per chunk by
-- dropout_cells_chunk.sql): per course and day bin (day, day + 1] from :recent (T's date -
-- the recent window's days) up to the day before :day (= T's date): count, first and last occurred_at; per course for the bins from :floor to the day before :recent
-- (outside the recent window: only their count and last event count): one row, first_at =
-- last_at = the last event. With the raw events before :floor (dropout_old_events.sql) and
-- each due item's first submission (dropout_due_firsts.sql) they give every feature of the
-- raw events at T (course_features.py, "Day cells"). (:recent >= :floor: store.rollup_cells.)
CREATE TEMP TABLE predictive_cells ON COMMIT DROP AS
SELECT a.user_id, a.course_id, min(a.first_at) AS first_at, max(a.last_at) AS last_at, sum(a.events)::bigint AS n
FROM learner_daily_activity a
WHERE a.day >= cast(:recent AS date) AND a.day < cast(:day AS date) AND a.course_id <> ''
  AND a.user_id IN (SELECT user_id FROM pg_temp.predictive_learners)
GROUP BY a.user_id, a.day, a.course_id
UNION ALL
SELECT a.user_id, a.course_id, max(a.last_at), max(a.last_at), sum(a.events)::bigint
FROM learner_daily_activity a
WHERE a.day >= cast(:floor AS date) AND a.day < cast(:recent AS date) AND a.course_id <> ''
  AND a.user_id IN (SELECT user_id FROM pg_temp.predictive_learners)
GROUP BY a.user_id, a.course_id
