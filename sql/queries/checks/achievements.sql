-- Independent check: user_achievements at T = :t — per learner the achievements earned and when —
-- from the raw tables (docs/gamification.md, gamification/achievements.py's meaning; catalog =
-- the achievements table, default mastery threshold 80). A criterion `key: N` is met at the
-- instant the learner's metric first reaches N; an entry (all keys met) is earned at the latest
-- of its keys' instants, at or before T; an entry with an unknown key is never earned:
--   coursesCompleted   distinct courses completed (completed_at ≤ T), at the N-th first completion;
--   assessmentsPassed  distinct assessments passed (score ≥ passing score, submitted ≤ T), at the
--                      first pass of the N-th;
--   masteredSkills     skills with mastery ≥ 80 assessed at or before T, at the N-th
--                      last_assessed_at;
--   streakDays         the N-th consecutive active local day, at that day's first event;
--   totalPoints        the running total of the awards (in timestamp, type, origin order) ≥ N.
-- Awards and active days: checks/gamification_awards.sql (composed in as the part "awards").
with p as (
  select cast(:t as timestamptz) as t
), a as (
  select * from ({awards}) x
), criteria as (
  select c.id as achievement_id, k.key, k.value::numeric as threshold,
         count(*) over (partition by c.id) as n_keys
  from achievements c cross join lateral jsonb_each_text(c.criteria) k
  where not exists (select 1 from jsonb_object_keys(c.criteria) o
                    where o not in ('coursesCompleted', 'assessmentsPassed', 'masteredSkills',
                                    'streakDays', 'totalPoints'))
), courses as (
  select user_id, course_id, min(completed_at) as ts
  from enrollments cross join p
  where completed_at <= p.t and user_id in (select id from users) and {sample:user_id}
  group by user_id, course_id
), passes as (
  select user_id, assessment_id, min(submitted_at) as ts
  from assessment_results cross join p
  where score >= passing_score and submitted_at <= p.t and user_id in (select id from users)
    and {sample:user_id}
  group by user_id, assessment_id
), mastered as (
  select user_id, skill_id, last_assessed_at as ts
  from user_skills cross join p
  where mastery_level >= 80 and last_assessed_at <= p.t and user_id in (select id from users)
    and {sample:user_id}
), days as (
  select user_id, to_date(right(source_id, 10), 'YYYY-MM-DD') as day, ts
  from a where activity_type = 'daily_first_activity'
), metrics as (
  select user_id, 'coursesCompleted' as key, ts,
         row_number() over (partition by user_id order by ts, course_id) as value
  from courses
  union all
  select user_id, 'assessmentsPassed', ts,
         row_number() over (partition by user_id order by ts, assessment_id)
  from passes
  union all
  select user_id, 'masteredSkills', ts, row_number() over (partition by user_id order by ts, skill_id)
  from mastered
  union all
  select user_id, 'streakDays', ts, row_number() over (partition by user_id, island order by day)
  from (select d.*, d.day - (row_number() over (partition by d.user_id order by d.day))::int as island
        from days d) s
  union all
  select user_id, 'totalPoints', ts,
         sum(points) over (partition by user_id order by ts, activity_type, source_id
                           rows between unbounded preceding and current row)
  from a
), met as (
  select m.user_id, c.achievement_id, c.key, min(m.ts) as ts, min(c.n_keys) as n_keys
  from metrics m join criteria c on c.key = m.key and m.value >= c.threshold
  group by m.user_id, c.achievement_id, c.key
), earned as (
  select user_id, achievement_id, max(ts) as earned_at
  from met group by user_id, achievement_id
  having count(*) = min(n_keys) and max(ts) <= (select t from p)
)
select user_id, count(*) as achievements,
       jsonb_agg(jsonb_build_object(
         'achievement_id', achievement_id,
         'earned_at', to_char(earned_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'))
         order by achievement_id) as earned
from earned
group by user_id
