-- Session parts (learner_daily_sessions, migration 0018) of the rows of the enclosing
-- statement's CTE session_events (user_id, day, occurred_at, dur = duration_seconds with null
-- and NaN as 0): per learner and day, the events ordered by (occurred_at, dur) as engagement
-- orders them; a part opens at the cell's first event or after a gap of more than :gap, and
-- ends at the event before the next opening (its last event; among events at the same instant
-- the one with the largest duration). Included by daily_activity_build.sql and
-- daily_activity_update.sql ({session_parts}). Learners are partitioned in the "C" collation (byte
-- equality: the same partitions, cheaper sort keys).
select user_id, day, min(occurred_at) as start_at, max(occurred_at) as last_at,
       max(dur) filter (where closes) as last_duration, count(*)::integer as events
from (
  select user_id, day, occurred_at, dur, closes,
         count(*) filter (where opens) over (partition by user_id collate "C", day order by occurred_at, dur
                                             rows unbounded preceding) as part
  from (
    select user_id, day, occurred_at, dur,
           coalesce(occurred_at - lag(occurred_at) over w > cast(:gap as interval), true) as opens,
           coalesce(lead(occurred_at) over w - occurred_at > cast(:gap as interval), true) as closes
    from session_events
    window w as (partition by user_id collate "C", day order by occurred_at, dur)
  ) edges
) numbered
group by user_id, day, part
