-- Content-effectiveness evidence, chunk :i of :n: events on content known at :t in
-- (:since, :t] (lookback + effect window) of learners with a result in the lookback.
select le.user_id, le.content_id, le.event_type, le.occurred_at
from learning_events le
where le.content_id is not null
  and le.occurred_at > :since and le.occurred_at <= :t and le.updated_at <= :t
  and mod(abs(hashtext(le.user_id)::bigint), :n) = :i
  and exists (
    select 1 from assessment_results r
    where r.user_id = le.user_id and r.skill_id is not null
      and r.submitted_at > :results_since and r.submitted_at <= :t and r.updated_at <= :t)
