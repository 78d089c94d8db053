-- Skill levels known at :t (last assessed at or before :t, or never) of chunk :i of :n.
select us.user_id, us.skill_id, us.mastery_level::float8 as mastery_level, us.last_assessed_at
from user_skills us
where (us.last_assessed_at is null or us.last_assessed_at <= :t)
  and mod(abs(hashtext(us.user_id)::bigint), :n) = :i
