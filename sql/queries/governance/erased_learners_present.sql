-- Learners erased earlier (tombstones) whose user row came back.
SELECT count(*)
FROM users u
WHERE erasure_subject_hash(u.id) IN (SELECT user_id FROM erasure_requests WHERE processed_at IS NOT NULL)
