-- The oldest activity instant (event, passing-or-not result, course completion; at most T) among
-- the raw rows that arrived — updated_at — in [:start, :t]: late data of earlier days, which a
-- window cut by the activity instant alone would never award. NULL when none arrived late.
-- (`+ interval '0'`: the minimum is taken over the arrivals found through the updated_at index,
-- not by walking the activity-time index backwards past millions of older rows.)
SELECT least(
  (SELECT min(occurred_at + interval '0') FROM learning_events
   WHERE updated_at >= :start AND updated_at <= :t AND occurred_at <= :t),
  (SELECT min(submitted_at + interval '0') FROM assessment_results
   WHERE updated_at >= :start AND updated_at <= :t AND submitted_at <= :t),
  (SELECT min(completed_at + interval '0') FROM enrollments
   WHERE updated_at >= :start AND updated_at <= :t AND completed_at <= :t)) AS oldest
