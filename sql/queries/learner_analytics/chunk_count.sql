-- Learners to split into chunks: every user (a cheap upper bound of any category's learners).
-- The runner uses ceil(count / chunk_learners) hash buckets.
select count(*) as learners from users
