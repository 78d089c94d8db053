-- Content-effectiveness evidence and use, chunks :i to :j of :n (one scan serves several chunks,
-- split by the column chunk: store.GroupedReads): events on content known at :t and still
-- retained at :t (occurred in [:kept, :t]). The evidence window (T - 104 d, T] is cut in pandas
-- (content_effectiveness.evidence), as is the filter "learners with a result in the lookback"
-- (a correlated EXISTS here made the planner probe the results index once per event:
-- misestimated hash-bucket predicate, several times slower than the plain scan); the same rows
-- give each learner's latest use of each item (content_effectiveness.latest_use).
select le.user_id, le.content_id, le.event_type, le.occurred_at,
       mod(abs(hashtext(le.user_id)::bigint), :n) as chunk
from learning_events le
where le.content_id is not null
  and le.occurred_at >= :kept and le.occurred_at <= :t and le.updated_at <= :t
  and mod(abs(hashtext(le.user_id)::bigint), :n) between :i and :j
