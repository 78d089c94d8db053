SELECT id, user_id, course_id, assessment_id, score::float8 AS score,
       passing_score::float8 AS passing_score, submitted_at
FROM assessment_results
WHERE submitted_at >= :start AND submitted_at <= :t AND score >= passing_score
  AND mod(abs(hashtext(user_id)), :buckets) = :bucket
