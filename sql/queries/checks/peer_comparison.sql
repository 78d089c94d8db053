-- Independent check: peer_comparison_aggregates as of T = :t, from the raw tables: each
-- learner's velocity and performance computed again by the velocity and performance checks
-- (composed in below), the competency level from their mean mastery, and a group published
-- only with at least k learners (k_anonymity()), its score average only when at least k of
-- them have a score (a learner without a result has none: NULL, never 0). A group depends on
-- its organization's learners only: with a sample (independent_check.py, sample_learners) each
-- sample placeholder keeps the learners of a hash sample of organizations, whose groups are exact.
with velocity as (
{velocity}
), performance as (
{performance}
), level as (
  select u.id as user_id, u.organization_id, m.mean_mastery
  from users u
  left join (select user_id, avg(mastery_level) as mean_mastery from user_skills group by user_id) m
    on m.user_id = u.id
  where u.organization_id is not null and {sample:u.id}
), members as (
  select l.organization_id,
         case when coalesce(l.mean_mastery, 0) >= 70 then 'advanced'
              when coalesce(l.mean_mastery, 0) >= 30 then 'intermediate'
              else 'beginner' end as competency_level,
         v.current_pace::numeric(5,2) as pace, s.avg_score::numeric(5,2) as score
  from level l
  join velocity v on v.user_id = l.user_id
  left join performance s on s.user_id = l.user_id
)
select organization_id, competency_level,
       round(avg(pace), 2)::float8 as avg_velocity,
       round((percentile_cont(0.5) within group (order by pace))::numeric, 2)::float8 as median_velocity,
       case when count(score) >= k_anonymity() then round(avg(score), 2)::float8 end as avg_score,
       count(*) as sample_size,
       count(score) as score_sample_size
from members
group by organization_id, competency_level
having count(*) >= k_anonymity()
