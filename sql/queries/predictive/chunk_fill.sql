-- The learners of hash bucket :i of :n of pg_temp.predictive_learners (store.LearnerSet.chunk):
-- every chunked query of this folder reads the learners of pg_temp.predictive_chunk.
-- (bigint before abs: hashtext can return -2^31, whose int4 abs overflows.)
INSERT INTO pg_temp.predictive_chunk (user_id)
SELECT user_id FROM pg_temp.predictive_learners WHERE mod(abs(hashtext(user_id)::bigint), :n) = :i
