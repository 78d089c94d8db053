-- Each due item's first submission (learning event on a content item with a due date) per
-- learner of pg_temp.predictive_learners and course, of the events known at :t that
-- occurred in (:floor_at, :t]: read once for every chunk into pg_temp.predictive_due_firsts
-- (one scan of the events instead of one per chunk; 4 % of the events at M).
CREATE TEMP TABLE predictive_due_firsts ON COMMIT DROP AS
SELECT user_id, course_id, content_id, min(occurred_at) AS occurred_at
FROM learning_events
WHERE content_id IN (SELECT id FROM content_items WHERE due_at IS NOT NULL)
  AND occurred_at > :floor_at AND occurred_at <= :t AND updated_at <= :t
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_learners)
GROUP BY user_id, course_id, content_id
