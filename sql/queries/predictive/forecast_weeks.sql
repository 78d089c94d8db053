-- The forecast's events of the learners of chunk :i of :n (pg_temp.predictive_learners, hash
-- buckets), known at :t (occurred_at and updated_at <= :t), summed in the database: one row per
-- (learner, course, week k) with k = floor((:t - occurred_at) / 7 days) for the last :weeks
-- weeks, and one row (k = :weeks) for everything earlier; occurred_at = :t - 7k days (the
-- same week as the events it sums), progress_delta = their exact sum (0 when none has one).
-- Progress at :t and every weekly sum are those of the raw events, at <= :weeks + 1 rows per
-- enrollment instead of every event.
SELECT user_id, course_id, cast(:t AS timestamptz) - make_interval(secs => 604800 * wk) AS occurred_at,
       coalesce(sum(progress_delta), 0)::float8 AS progress_delta
FROM (
  SELECT user_id, course_id, progress_delta,
         least(floor((extract(epoch FROM cast(:t AS timestamptz)) - extract(epoch FROM occurred_at)) / 604800), :weeks)::int AS wk
  FROM learning_events
  WHERE occurred_at <= :t AND updated_at <= :t
    AND user_id IN (SELECT user_id FROM pg_temp.predictive_learners WHERE mod(abs(hashtext(user_id)::bigint), :n) = :i)
) e
GROUP BY user_id, course_id, wk
