-- Every learner enrolled by :t, or (:n > 1) the sample of them in hash bucket 0 of :n (the
-- drop-off model's training learners; the same bucket function as the chunked reads).
INSERT INTO pg_temp.predictive_learners (user_id)
SELECT DISTINCT user_id FROM enrollments
WHERE enrolled_at <= :t AND mod(abs(hashtext(user_id)::bigint), :n) = 0
