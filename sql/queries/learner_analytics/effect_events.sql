-- Content-effectiveness evidence, chunk :i of :n: events on content known at :t in
-- (:since, :t] (lookback + effect window), still retained at :t (occurred at or after :kept). Only events of learners with a result in the
-- lookback are evidence: that filter is applied in pandas (content_effectiveness.evidence);
-- a correlated EXISTS here made the planner probe the results index once per event
-- (misestimated hash-bucket predicate), several times slower than the plain scan.
select le.user_id, le.content_id, le.event_type, le.occurred_at
from learning_events le
where le.content_id is not null
  and le.occurred_at > :since and le.occurred_at >= :kept and le.occurred_at <= :t and le.updated_at <= :t
  and mod(abs(hashtext(le.user_id)::bigint), :n) = :i
