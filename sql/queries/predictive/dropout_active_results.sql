-- dropout_results.sql for drop-off's scoring pass at :t (store.rollup_chunk_frames): only the
-- results in a course of an enrollment of the learner active at :t (a scoring row's features
-- use the results of its own learner and course only; at M 40 % of the chunk's results).
SELECT r.user_id, r.course_id, r.assessment_id, r.score::float8 AS score, r.passing_score::float8 AS passing_score,
       r.submitted_at
FROM assessment_results r
WHERE r.submitted_at > :since AND r.submitted_at <= :t AND r.updated_at <= :t
  AND r.user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
  AND (r.user_id, r.course_id) IN (SELECT e.user_id, e.course_id FROM enrollments e
                                   WHERE e.enrolled_at <= :t
                                     AND (e.completed_at IS NULL OR e.completed_at > :t)
                                     AND (e.withdrawn_at IS NULL OR e.withdrawn_at > :t))
