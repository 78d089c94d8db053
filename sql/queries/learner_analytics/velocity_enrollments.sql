-- Enrollments active at :t of chunk :i of :n, with progress rewound to :t:
-- progress_percent is the value now; the deltas of the enrollment's events not known at :t
-- (occurred after :t, or ingested after :t: updated_at > :t) are taken back, clipped 0-100.
with chunk as (
  select e.id, e.user_id, e.course_id, e.enrolled_at, e.target_completion_at, e.completed_at,
         e.withdrawn_at, e.progress_percent
  from enrollments e
  where e.enrolled_at <= :t
    and (e.completed_at is null or e.completed_at > :t)
    and (e.withdrawn_at is null or e.withdrawn_at > :t)
    and mod(abs(hashtext(e.user_id)::bigint), :n) = :i
), later as (
  select le.user_id, le.course_id, sum(le.progress_delta) as delta
  from learning_events le
  where (le.occurred_at > :t or le.updated_at > :t)
    and le.progress_delta is not null
    and mod(abs(hashtext(le.user_id)::bigint), :n) = :i
  group by le.user_id, le.course_id
)
select c.user_id, c.course_id, c.enrolled_at, c.target_completion_at, c.completed_at,
       c.withdrawn_at,
       greatest(0, least(100, c.progress_percent - coalesce(l.delta, 0)))::float8 as progress_percent
from chunk c
left join later l on l.user_id = c.user_id and l.course_id = c.course_id
