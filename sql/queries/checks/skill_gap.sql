-- Independent check: skill gaps (skill_gap_analytics) as of T = :t in one statement over the
-- raw tables (docs/analytics.md "Skill gaps"): target = highest target level among the active
-- courses requiring the skill, current = mastery known at T (0 if none), gap > 0 listed by
-- priority (gap x active courses requiring it) desc, gap desc, skill id; critical: gap >= 40.
with p as (
  select cast(:t as timestamptz) as t
), act as (
  select distinct e.user_id, e.course_id
  from enrollments e cross join p
  where e.enrolled_at <= p.t and {sample:e.user_id}
    and (e.completed_at is null or e.completed_at > p.t)
    and (e.withdrawn_at is null or e.withdrawn_at > p.t)
), req as (
  select a.user_id, cs.skill_id, max(coalesce(cs.target_level, 0)) as target,
         count(distinct a.course_id) as n_courses
  from act a join course_skills cs on cs.course_id = a.course_id
  group by a.user_id, cs.skill_id
), known as (
  select us.user_id, us.skill_id, max(coalesce(us.mastery_level, 0)) as level
  from user_skills us cross join p
  where (us.last_assessed_at is null or us.last_assessed_at <= p.t) and {sample:us.user_id}
  group by us.user_id, us.skill_id
), gaps as (
  select r.user_id, r.skill_id, s.name as skill_name, coalesce(k.level, 0) as current, r.target,
         r.target - coalesce(k.level, 0) as gap, (r.target - coalesce(k.level, 0)) * r.n_courses as priority
  from req r
  left join known k on k.user_id = r.user_id and k.skill_id = r.skill_id
  left join skills s on s.id = r.skill_id
  where r.target - coalesce(k.level, 0) > 0
), by_learner as (
  select user_id, count(*) as total_gaps, count(*) filter (where gap >= 40) as critical_gaps,
         jsonb_agg(jsonb_build_object('skillId', skill_id, 'skillName', skill_name,
                                      'current', current::float8, 'target', target::float8,
                                      'gap', gap::float8, 'priority', priority::float8)
                   order by priority desc, gap desc, skill_id collate "C") as gaps
  from gaps group by user_id
)
select l.user_id, coalesce(b.total_gaps, 0)::int as total_gaps,
       coalesce(b.critical_gaps, 0)::int as critical_gaps,
       coalesce(b.gaps, '[]'::jsonb) as gaps, b.gaps -> 0 as top_priority
from (select distinct user_id from act) l
left join by_learner b using (user_id)
