-- Independent check: the awards the points ledger (point_transactions) must hold at T = :t, one
-- row per award, from the raw tables (docs/gamification.md "Rules and defaults", "Origins of the
-- ledger", "Time zones and streaks"; default rules). The ledger covers the activity from
-- :kept = T − 90 d (a new warehouse catches up on the retention window) to T:
--   content_completed 10   per learner and content item completed in [kept, T] (a completed
--                           event without content id pays on its own), at its first completion;
--   course_completed 100   per learner and course completed in [kept, T], at the first completion;
--   assessment_passed 25   per learner and assessment passed (score ≥ passing score) in [kept, T];
--   assessment_excellence_bonus 10  per learner and assessment with a passing score ≥ 90;
--   daily_first_activity 5 per local day (organisation zone when PostgreSQL knows it, else UTC)
--                           with an event, whose last event is in [kept, T], at its first event;
--   streak_bonus 50        on the 7th, 14th, … day of a run of consecutive such days.
-- Only learners in users (raw events have no foreign key). Composed by the ledger, totals and
-- achievement checks. A day or streak award also carries the learner's time zone (tz: its day is a
-- local date in it; NULL on item awards), so the totals check needs no second per-row zone lookup.
with p as (
  select cast(:t as timestamptz) as t, cast(:kept as timestamptz) as kept
), learner as (
  select u.id as user_id, coalesce(z.name, 'UTC') as tz
  from users u
  left join organizations o on o.id = u.organization_id
  left join (select distinct name from pg_timezone_names) z
    on jsonb_typeof(o.settings) = 'object' and z.name = o.settings ->> 'timezone'
  where {sample:u.id}
), events as materialized (
  -- the sample's events read once, for the content awards and the days (a local day lasts at most
  -- 26 h: its events start at most 2 days before its last one)
  select e.id, e.user_id, l.tz, e.content_id, e.event_type, e.occurred_at
  from learning_events e join learner l on l.user_id = e.user_id cross join p
  where e.occurred_at <= p.t and e.occurred_at >= p.kept - interval '2 days' and {sample:e.user_id}
), items as (
  select e.user_id, 'content_completed' as activity_type, 10 as points,
         case when e.content_id is null or e.content_id = '' then 'id:' || e.id
              else e.user_id || ':' || e.content_id end as source_id,
         e.occurred_at as ts, e.id as origin
  from events e cross join p
  where e.event_type = 'completed' and e.occurred_at >= p.kept
  union all
  select n.user_id, 'course_completed', 100, n.user_id || ':' || n.course_id, n.completed_at, n.id
  from enrollments n join learner l on l.user_id = n.user_id cross join p
  where n.completed_at >= p.kept and n.completed_at <= p.t and {sample:n.user_id}
  union all
  select r.user_id, 'assessment_passed', 25, r.user_id || ':' || r.assessment_id, r.submitted_at, r.id
  from assessment_results r join learner l on l.user_id = r.user_id cross join p
  where r.score >= r.passing_score and r.submitted_at >= p.kept and r.submitted_at <= p.t and {sample:r.user_id}
  union all
  select r.user_id, 'assessment_excellence_bonus', 10, r.user_id || ':' || r.assessment_id, r.submitted_at, r.id
  from assessment_results r join learner l on l.user_id = r.user_id cross join p
  where r.score >= r.passing_score and r.score >= 90 and r.submitted_at >= p.kept and r.submitted_at <= p.t
    and {sample:r.user_id}
), first_items as (
  select distinct on (activity_type, source_id) user_id, activity_type, points, source_id, ts
  from items order by activity_type, source_id, ts, origin
), days as (
  select e.user_id, e.tz, (e.occurred_at at time zone e.tz)::date as day,
         min(e.occurred_at) as first_at
  from events e
  group by e.user_id, e.tz, (e.occurred_at at time zone e.tz)::date
  having max(e.occurred_at) >= (select kept from p)
), positions as (
  select d.*, row_number() over (partition by d.user_id, d.island order by d.day) as streak_day
  from (select days.*, days.day - (row_number() over (partition by user_id order by day))::int as island
        from days) d
)
select user_id, activity_type, points, source_id, ts, cast(null as text) as tz from first_items
union all
select user_id, 'daily_first_activity', 5, user_id || ':' || to_char(day, 'YYYY-MM-DD'), first_at, tz
from positions
union all
select user_id, 'streak_bonus', 50, user_id || ':' || to_char(day, 'YYYY-MM-DD'), first_at, tz
from positions where streak_day % 7 = 0
