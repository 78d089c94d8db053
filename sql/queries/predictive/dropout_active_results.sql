-- dropout_results.sql for drop-off's scoring pass at :t (store.rollup_cells, once for every
-- chunk): the results known at :t of the learners of pg_temp.predictive_learners in a course
-- of one of their enrollments active at :t (a scoring row's features use the results of its own
-- learner and course only; at M 40 % of them), into pg_temp.predictive_results; each chunk
-- reads its learners' rows submitted after its own history bound (dropout_results_chunk.sql).
CREATE TEMP TABLE predictive_results ON COMMIT DROP AS
SELECT r.user_id, r.course_id, r.assessment_id, r.score::float8 AS score, r.passing_score::float8 AS passing_score,
       r.submitted_at
FROM assessment_results r
WHERE r.submitted_at <= :t AND r.updated_at <= :t
  AND r.user_id IN (SELECT user_id FROM pg_temp.predictive_learners)
  AND (r.user_id, r.course_id) IN (SELECT e.user_id, e.course_id FROM enrollments e
                                   WHERE e.enrolled_at <= :t
                                     AND (e.completed_at IS NULL OR e.completed_at > :t)
                                     AND (e.withdrawn_at IS NULL OR e.withdrawn_at > :t))
