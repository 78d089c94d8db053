-- Events known at :t (occurred and ingested at or before :t) in (:since, :t] of chunk :i of :n,
-- still retained at :t (occurred at or after :kept).
select le.user_id, le.course_id, le.occurred_at, le.progress_delta::float8 as progress_delta
from learning_events le
where le.occurred_at > :since and le.occurred_at >= :kept and le.occurred_at <= :t and le.updated_at <= :t
  and mod(abs(hashtext(le.user_id)::bigint), :n) = :i
