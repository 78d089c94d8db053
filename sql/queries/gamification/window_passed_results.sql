SELECT id, user_id, course_id, assessment_id, score, passing_score, submitted_at
FROM tmp_window_results
WHERE bucket = :bucket
