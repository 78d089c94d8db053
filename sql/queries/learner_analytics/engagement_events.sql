-- Events known at :t in (:since, :t] (the 8 trend weeks) of chunk :i of :n, plus, per learner
-- active at :t, their latest known event at or before :since (only its time is used: last
-- activity and the recency of the oldest weeks); only events still retained at :t (occurred at
-- or after :kept = T - the activity-log retention), and for older ones the learner's retained
-- activity summary (learner_activity_summary.last_event_at: what retention deleted).
with learners as (
  select distinct e.user_id
  from enrollments e
  where e.enrolled_at <= :t
    and (e.completed_at is null or e.completed_at > :t)
    and (e.withdrawn_at is null or e.withdrawn_at > :t)
    and mod(abs(hashtext(e.user_id)::bigint), :n) = :i
)
select le.user_id, le.occurred_at, le.duration_seconds::float8 as duration_seconds, le.content_type
from learning_events le
join learners l on l.user_id = le.user_id
where le.occurred_at > :since and le.occurred_at <= :t and le.updated_at <= :t
union all
select l.user_id, p.occurred_at, 0::float8 as duration_seconds, null::text as content_type
from learners l
cross join lateral (
  select max(x.occurred_at) as occurred_at from (
    (select le.occurred_at from learning_events le
     where le.user_id = l.user_id and le.occurred_at <= :since and le.occurred_at >= :kept
       and le.updated_at <= :t
     order by le.occurred_at desc limit 1)
    union all
    select s.last_event_at from learner_activity_summary s
    where s.user_id = l.user_id and s.last_event_at <= :since
  ) x
) p
where p.occurred_at is not null
