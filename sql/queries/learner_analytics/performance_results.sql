-- Results known at :t (submitted and last updated at or before :t) in (:since, :t] of chunk
-- :i of :n, of users of the directory (the analytics rows reference users), still retained at
-- :t (submitted at or after :kept).
select r.id, r.user_id, r.assessment_id, r.skill_id, r.score::float8 as score,
       r.passing_score::float8 as passing_score, r.submitted_at
from assessment_results r
join users u on u.id = r.user_id
where r.submitted_at > :since and r.submitted_at >= :kept and r.submitted_at <= :t and r.updated_at <= :t
  and mod(abs(hashtext(r.user_id)::bigint), :n) = :i
