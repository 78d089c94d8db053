-- bench/carry.py: a day of changes in (:tp, :tp + 1 day] for a share :share of the learners
-- (setseed(:seed): the same learners each run), split evenly over four kinds of change.
with picked as (
  select id as user_id, ntile(4) over (order by random()) as kind
  from (select setseed(:seed)) s, users where random() < :share
), results as (
  insert into assessment_results (id, user_id, assessment_id, skill_id, score, passing_score, submitted_at, updated_at)
  select 'rc-' || p.user_id, p.user_id, 'a-carry', (select min(id) from skills), 55, 70,
         :tp + interval '5 hours', :tp + interval '5 hours'
  from picked p where p.kind = 1
  returning 1
), skills_done as (
  update user_skills us set mastery_level = least(100, us.mastery_level + 5),
         last_assessed_at = :tp + interval '3 hours', updated_at = :tp + interval '3 hours'
  from picked p where p.kind = 2 and us.user_id = p.user_id
  returning 1
), completed as (
  update enrollments e set completed_at = :tp + interval '4 hours', status = 'completed',
         updated_at = :tp + interval '4 hours'
  from picked p where p.kind = 3 and e.user_id = p.user_id and e.completed_at is null and e.withdrawn_at is null
  returning 1
), deleted as (
  delete from assessment_results r using picked p
  where p.kind = 4 and r.user_id = p.user_id and r.submitted_at > :tp - interval '30 days'
  returning 1
)
select (select count(*) from results), (select count(*) from skills_done),
       (select count(*) from completed), (select count(*) from deleted)
