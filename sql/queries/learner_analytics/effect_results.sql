-- Content-effectiveness evidence, chunks :i to :j of :n (as effect_events.sql): results with a skill known at :t in the
-- lookback (:since, :t], still retained at :t (submitted at or after :kept).
select r.user_id, r.skill_id, r.score::float8 as score, r.submitted_at,
       mod(abs(hashtext(r.user_id)::bigint), :n) as chunk
from assessment_results r
where r.skill_id is not null
  and r.submitted_at > :since and r.submitted_at >= :kept and r.submitted_at <= :t and r.updated_at <= :t
  and mod(abs(hashtext(r.user_id)::bigint), :n) between :i and :j
