SELECT id, user_id, assessment_id, score, passing_score, submitted_at
FROM tmp_achievement_results
WHERE bucket = :bucket
