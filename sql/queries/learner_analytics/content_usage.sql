-- Content-effectiveness learner rows, chunk :i of :n: per (learner active at :t, item) the
-- latest known use at or before :t (used in W = latest use in W; ever used = a row), of the
-- events still retained at :t (occurred at or after :kept).
with learners as (
  select distinct e.user_id
  from enrollments e
  where e.enrolled_at <= :t
    and (e.completed_at is null or e.completed_at > :t)
    and (e.withdrawn_at is null or e.withdrawn_at > :t)
    and mod(abs(hashtext(e.user_id)::bigint), :n) = :i
)
select le.user_id, le.content_id, max(le.occurred_at) as occurred_at, 'progressed' as event_type
from learning_events le
join learners l on l.user_id = le.user_id
where le.content_id is not null and le.occurred_at <= :t and le.occurred_at >= :kept
  and le.updated_at <= :t
group by le.user_id, le.content_id
