-- Independent check: learner velocity (learner_velocity_analytics) as of T = :t in one
-- statement over the raw tables (docs/analytics.md "Velocity"; default thresholds). Rows known
-- at T: events occurred and ingested (updated_at) at or before T and retained (occurred at or
-- after :kept); progress at T = progress_percent minus the deltas of the enrollment's events
-- not known at T; weeks left = the real time to the target date (a date at or before T: 1).
with p as (
  select cast(:t as timestamptz) as t, cast(:kept as timestamptz) as kept
), act as (
  select distinct e.user_id, e.course_id, e.enrolled_at, e.target_completion_at, e.progress_percent
  from enrollments e cross join p
  where e.enrolled_at <= p.t and {sample:e.user_id}
    and (e.completed_at is null or e.completed_at > p.t)
    and (e.withdrawn_at is null or e.withdrawn_at > p.t)
), known as (
  select le.user_id, le.course_id, le.occurred_at, coalesce(le.progress_delta, 0) as delta
  from learning_events le cross join p
  where le.occurred_at <= p.t and le.updated_at <= p.t and le.occurred_at >= p.kept
    and le.occurred_at > p.t - interval '28 days' and {sample:le.user_id}
), later as (
  select le.user_id, le.course_id, sum(le.progress_delta) as delta
  from learning_events le  -- T as a literal: the planner sees the few rows after T (index scans)
  where (le.occurred_at > cast(:t as timestamptz) or le.updated_at > cast(:t as timestamptz))
    and {sample:le.user_id}
  group by le.user_id, le.course_id
), known_by_course as (
  select k.user_id, k.course_id, sum(k.delta) as in_w,
         coalesce(sum(k.delta) filter (where k.occurred_at > p.t - interval '14 days'), 0) as recent,
         coalesce(sum(k.delta) filter (where k.occurred_at <= p.t - interval '14 days'), 0) as previous
  from known k cross join p
  group by k.user_id, k.course_id
), per_course as (
  select a.user_id, a.course_id,
         greatest(0, least(100, coalesce(a.progress_percent, 0) - coalesce(l.delta, 0))) as progress,
         coalesce(a.target_completion_at,
                  a.enrolled_at + coalesce(c.expected_weeks, 12) * interval '1 week') as target_date,
         coalesce(kc.in_w, 0) as in_w, coalesce(kc.recent, 0) as recent, coalesce(kc.previous, 0) as previous
  from act a
  left join courses c on c.id = a.course_id
  left join later l on l.user_id = a.user_id and l.course_id = a.course_id
  left join known_by_course kc on kc.user_id = a.user_id and kc.course_id = a.course_id
), weeks as (
  select pc.*, extract(epoch from pc.target_date - p.t) / 604800.0 as weeks_left
  from per_course pc cross join p
), learner as (
  select user_id,
         avg(in_w / 4.0) as current_pace,
         avg((100 - progress) / case when weeks_left > 0 then weeks_left else 1 end) as target_pace,
         avg(100 - progress) as remaining,
         sum(recent) as recent, sum(previous) as previous
  from weeks group by user_id
), shaped as (
  select l.*,
         not exists (select 1 from known k cross join p
                     where k.user_id = l.user_id and k.occurred_at > p.t - interval '14 days') as inactive,
         case when l.previous = 0 then case when l.recent > 0 then 999.99 when l.recent < 0 then -999.99 else 0 end
              else greatest(-999.99, least(999.99, (l.recent - l.previous) * 100.0 / abs(l.previous))) end as pct
  from learner l
)
select s.user_id,
       round(greatest(-999.99, least(999.99, s.current_pace))::numeric, 2)::float8 as current_pace,
       round(s.target_pace::numeric, 2)::float8 as target_pace,
       case when s.pct > 10 then 'accelerating' when s.pct < -10 then 'declining' else 'stable' end as trend_direction,
       round(s.pct::numeric, 2)::float8 as trend_percentage,
       case when s.inactive then 'at_risk'
            when s.current_pace >= 1.1 * s.target_pace then 'ahead'
            when s.current_pace >= 0.9 * s.target_pace then 'on_track'
            when s.current_pace >= 0.5 * s.target_pace then 'behind'
            else 'at_risk' end as status,
       case when s.current_pace > 0 and s.remaining / s.current_pace <= 520
            then p.t + s.remaining / s.current_pace * interval '1 week' end as estimated_completion
from shaped s cross join p
