SELECT r.id, r.user_id, r.assessment_id, r.score::float8 AS score,
       r.passing_score::float8 AS passing_score, r.submitted_at
FROM assessment_results r JOIN tmp_achievement_candidates c ON c.user_id = r.user_id
WHERE mod(abs(hashtext(c.user_id)), :buckets) = :bucket AND r.submitted_at <= :t AND r.score >= r.passing_score
