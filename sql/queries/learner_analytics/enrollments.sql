-- Enrollments active at :t (docs/raw-schema.md: timestamps, not status) of chunk :i of :n.
-- Chunk = hash bucket of user_id: mod(abs(hashtext(user_id)::bigint), :n) = :i
-- (bigint before abs: hashtext can return -2^31, whose int4 abs overflows).
select e.user_id, e.course_id, e.enrolled_at, e.target_completion_at, e.completed_at,
       e.withdrawn_at, e.progress_percent::float8 as progress_percent
from enrollments e
where e.enrolled_at <= :t
  and (e.completed_at is null or e.completed_at > :t)
  and (e.withdrawn_at is null or e.withdrawn_at > :t)
  and mod(abs(hashtext(e.user_id)::bigint), :n) = :i
