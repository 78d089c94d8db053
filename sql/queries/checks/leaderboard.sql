-- Independent check: the {board} leaderboard from the ledger (point_transactions): points
-- since the start of the current UTC {unit}; hidden learners left out; anonymous ones ranked
-- as 'Anonymous learner' without id or avatar; rank = 1 + learners shown with more points.
with bounds as (
  select date_trunc({unit}, now() at time zone 'UTC')::date as period_start
), points as (
  select pt.user_id, sum(pt.points) as points
  from point_transactions pt cross join bounds b
  where pt."timestamp" >= b.period_start::timestamp at time zone 'UTC'
  group by pt.user_id
), shown as (
  select x.user_id, x.points, coalesce(pr.leaderboard_privacy, 'public') = 'public' as public,
         u.full_name, u.avatar_url
  from points x
  join users u on u.id = x.user_id
  left join user_preferences pr on pr.user_id = x.user_id
  where coalesce(pr.leaderboard_privacy, 'public') <> 'hidden'
)
select leaderboard_entry_id({board}, b.period_start, s.user_id) as entry_id,
       -- rank() = 1 + the learners shown with strictly more points (one sort, not a count per row)
       rank() over (order by s.points desc) as rank,
       s.points as {points},
       case when s.public then s.user_id end as user_id,
       case when not s.public then 'Anonymous learner'
            when nullif(btrim(s.full_name), '') is null then 'Learner'
            else btrim(s.full_name) end as display_name,
       case when s.public then s.avatar_url end as avatar_url
from shown s cross join bounds b
