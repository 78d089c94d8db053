-- Independent check: skill_demand_aggregates from the raw user_skills: learners per skill and
-- UTC calendar month of their last assessment, mean mastery, growth against the previous
-- calendar month when that month was published; cells under k (k_anonymity()) withheld.
with cells as (
  select us.skill_id, to_char(us.last_assessed_at at time zone 'UTC', 'YYYY-MM') as ym,
         count(distinct us.user_id) as n, avg(us.mastery_level) as mean_mastery
  from user_skills us
  where us.last_assessed_at is not null
  group by us.skill_id, to_char(us.last_assessed_at at time zone 'UTC', 'YYYY-MM')
)
select c.skill_id, s.name as skill_name, c.n as learner_count,
       round(c.mean_mastery, 2)::float8 as avg_mastery,
       (c.ym || '-01 00:00:00+00')::timestamptz as month,
       case when prev.n >= k_anonymity() then round((c.n - prev.n) * 100.0 / prev.n, 2)::float8 end as growth_rate
from cells c
join skills s on s.id = c.skill_id
left join cells prev
  on prev.skill_id = c.skill_id
 and prev.ym = to_char((c.ym || '-01')::date - interval '1 month', 'YYYY-MM')
where c.n >= k_anonymity()
