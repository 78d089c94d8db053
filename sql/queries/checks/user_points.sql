-- Independent check: user_points (totals, level, streaks) as of T = :t (the latest partition end
-- the gamification processed) from the awards recomputed over the raw tables
-- (checks/gamification_awards.sql, composed in as the part "awards"); docs/gamification.md, default rules:
--   total_points   = the sum of the learner's awards;
--   current_level  = the highest level L whose threshold 100 × (L − 1)² the total reaches;
--   longest_streak = the longest run of consecutive active local days (the days of the daily
--                    awards) up to T's local date, taken just before T (the day that just ended);
--   current_streak = the length of the run holding the learner's latest such day when that day is
--                    at most 1 day (grace) before T's local date, else 0.
-- One row per learner with an award.
with a as (
  select * from ({awards}) x
), days as (
  -- a.tz: the learner's zone the awards took the local days in (checks/gamification_awards.sql)
  select a.user_id, to_date(right(a.source_id, 10), 'YYYY-MM-DD') as day,
         ((cast(:t as timestamptz) - interval '1 microsecond') at time zone a.tz)::date as t_day
  from a
  where a.activity_type = 'daily_first_activity'
), runs as (
  select user_id, count(*) as len, max(day) as last_day, max(t_day) as t_day
  from (select d.*, d.day - (row_number() over (partition by d.user_id order by d.day))::int as island
        from days d where d.day <= d.t_day) r
  group by user_id, island
), streaks as (
  select distinct on (user_id) user_id,
         case when t_day - last_day <= 1 then len else 0 end as current_streak,
         max(len) over (partition by user_id) as longest_streak
  from runs order by user_id, last_day desc
), totals as (
  select user_id, sum(points) as total_points from a group by user_id
)
select t.user_id, t.total_points,
       (floor(sqrt(t.total_points::numeric / 100)) + 1)::int as current_level,
       coalesce(s.current_streak, 0) as current_streak,
       coalesce(s.longest_streak, 0) as longest_streak
from totals t
left join streaks s on s.user_id = t.user_id
