-- Independent check: mastery (mastery_analytics) as of T = :t in one statement over the raw
-- tables (docs/analytics.md "Mastery"): learners with a skill level known at T (last assessed
-- at or before T, or never) or an active enrollment; mastered >= 80, in progress 0 < m < 80;
-- skills by level desc, skill id; bands [0,30) [30,70) [70,90) [90,...].
with p as (
  select cast(:t as timestamptz) as t
), known as (
  select us.user_id, us.skill_id, coalesce(us.mastery_level, 0) as m, us.last_assessed_at
  from user_skills us cross join p
  where (us.last_assessed_at is null or us.last_assessed_at <= p.t) and {sample:us.user_id}
), learners as (
  select user_id from known
  union
  select e.user_id from enrollments e cross join p
  where e.enrolled_at <= p.t and {sample:e.user_id}
    and (e.completed_at is null or e.completed_at > p.t)
    and (e.withdrawn_at is null or e.withdrawn_at > p.t)
), by_learner as (
  select k.user_id,
         count(*) filter (where k.m >= 80) as mastered_skills,
         count(*) filter (where k.m > 0 and k.m < 80) as in_progress_skills,
         jsonb_agg(jsonb_build_object(
             'skillId', k.skill_id, 'skillName', s.name, 'level', k.m::float8,
             'lastAssessedAt', to_char(k.last_assessed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
           order by k.m desc, k.skill_id collate "C") as skills,
         jsonb_build_object('beginner', count(*) filter (where k.m < 30),
                            'intermediate', count(*) filter (where k.m >= 30 and k.m < 70),
                            'advanced', count(*) filter (where k.m >= 70 and k.m < 90),
                            'expert', count(*) filter (where k.m >= 90)) as mastery_distribution
  from known k left join skills s on s.id = k.skill_id
  group by k.user_id
)
select l.user_id, coalesce(b.mastered_skills, 0)::int as mastered_skills,
       coalesce(b.in_progress_skills, 0)::int as in_progress_skills,
       coalesce(b.skills, '[]'::jsonb) as skills,
       coalesce(b.mastery_distribution,
                '{"beginner": 0, "intermediate": 0, "advanced": 0, "expert": 0}'::jsonb) as mastery_distribution
from learners l left join by_learner b using (user_id)
