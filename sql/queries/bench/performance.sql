-- Performance (performance_analytics) as of T = :t in one statement, as a dbt user would write it.
-- Meaning: shared/design/analytics.md and docs/analytics.md ("Performance"): learners with an
-- active enrollment at T or a result in (T-90d, T]; results ordered by (submitted_at, id);
-- pass rate in percent (null passing score = 70); trend = least-squares slope over the last 10
-- results against 0..n-1 (> +1 improving, < -1 declining); by-skill averages ordered by skill
-- id; the last 10 scores oldest first. Results known at T (submitted and ingested at or before
-- T), still retained at T (submitted at or after :kept), of users of the directory. No result:
-- avg_score, pass_rate and trend NULL (no measurement), 0 taken, empty lists.
WITH params AS (
  SELECT CAST(:t AS timestamptz) AS t, CAST(:kept AS timestamptz) AS kept
), r AS (
  -- user ids in the "C" collation from here on (byte order: the sorts, groupings and window
  -- partitions compare with memcmp and abbreviated keys instead of the database's C.UTF-8 strcoll;
  -- the same equality, so the same groups)
  SELECT ar.id, ar.user_id COLLATE "C" AS user_id, ar.assessment_id, ar.skill_id, ar.score::float8 AS score,
         ar.score AS score_n, coalesce(ar.passing_score, 70)::float8 AS passing_score, ar.submitted_at,
         row_number() OVER (PARTITION BY ar.user_id COLLATE "C" ORDER BY ar.submitted_at DESC, ar.id COLLATE "C" DESC) AS from_end
  -- the results of the directory's (sampled) users: their ids as one array, one bitmap scan of the
  -- (user_id, submitted_at) index (the join with users probed users_pkey once per result, the
  -- window's ~370k results at M scanned by submitted_at and filtered by the sample); T and
  -- :kept as literal bounds (from params the planner cannot see their selectivity)
  FROM assessment_results ar
  WHERE ar.user_id = ANY (ARRAY(SELECT u.id FROM users u WHERE {sample:u.id}))
    AND ar.submitted_at <= CAST(:t AS timestamptz) AND ar.submitted_at > CAST(:t AS timestamptz) - interval '90 days'
    AND ar.submitted_at >= CAST(:kept AS timestamptz)
    AND ar.score IS NOT NULL AND ar.updated_at <= CAST(:t AS timestamptz)
), learners AS (
  SELECT user_id FROM r
  UNION
  SELECT e.user_id COLLATE "C" FROM enrollments e CROSS JOIN params p
  WHERE e.enrolled_at <= p.t AND {sample:e.user_id}
    AND (e.completed_at IS NULL OR e.completed_at > p.t)
    AND (e.withdrawn_at IS NULL OR e.withdrawn_at > p.t)
), totals AS (
  SELECT user_id, count(*) AS n, avg(score) AS avg_score,
         100.0 * avg(CASE WHEN score >= passing_score THEN 1.0 ELSE 0.0 END) AS pass_rate,
         -- least-squares slope in exact numeric arithmetic (a slope of exactly ±1 is 'stable')
         (count(*) FILTER (WHERE from_end <= 10) * sum(-from_end * score_n) FILTER (WHERE from_end <= 10)
          - sum(-from_end) FILTER (WHERE from_end <= 10) * sum(score_n) FILTER (WHERE from_end <= 10))
         / nullif(count(*) FILTER (WHERE from_end <= 10) * sum(from_end * from_end) FILTER (WHERE from_end <= 10)
                  - sum(-from_end) FILTER (WHERE from_end <= 10) ^ 2, 0) AS slope,
         jsonb_agg(jsonb_build_object(
             'score', score,
             'submittedAt', to_char(submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
             'assessmentId', assessment_id,
             'skillId', skill_id) ORDER BY from_end DESC) FILTER (WHERE from_end <= 10) AS recent_scores
  FROM r GROUP BY user_id
), by_skill AS (
  SELECT user_id,
         jsonb_agg(jsonb_build_object('skillId', skill_id, 'skillName', skill_name,
                                      'avgScore', round(avg_score::numeric, 2)::float8, 'assessments', n)
                   ORDER BY skill_id COLLATE "C") AS performance_by_skill
  FROM (
    SELECT r.user_id, r.skill_id, s.name AS skill_name, avg(r.score) AS avg_score, count(*) AS n
    FROM r LEFT JOIN skills s ON s.id = r.skill_id
    WHERE r.skill_id IS NOT NULL
    GROUP BY r.user_id, r.skill_id, s.name
  ) k
  GROUP BY user_id
)
SELECT l.user_id,
       round(t.avg_score::numeric, 2)::float8 AS avg_score,
       CASE WHEN t.n IS NULL THEN NULL WHEN t.slope > 1 THEN 'improving' WHEN t.slope < -1 THEN 'declining'
            ELSE 'stable' END AS trend,
       coalesce(t.n, 0)::int AS assessments_taken,
       round(t.pass_rate::numeric, 2)::float8 AS pass_rate,
       coalesce(b.performance_by_skill, '[]'::jsonb) AS performance_by_skill,
       coalesce(t.recent_scores, '[]'::jsonb) AS recent_scores
FROM learners l
LEFT JOIN totals t USING (user_id)
LEFT JOIN by_skill b USING (user_id)
