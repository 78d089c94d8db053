-- Independent check: content effects (content_effectiveness' item and content-type effects per
-- skill) as of T = :t in one statement over the raw tables (docs/analytics.md "Content
-- effectiveness", defaults), compared with the effects the snapshot stored (checks/stored_effects.sql).
-- Evidence: results with a skill and a score in (T-90d, T] and events on content (T-104d, T], known
-- at T and retained (>= :kept). A result on skill s "used" key k (item, or content type) when its
-- learner had an event on an item of k tagged with s in [submitted - 14d, submitted]; treated when
-- one of those events is a completion. effect(k, s) = mean(treated) - mean(results on s that did
-- not use k), only with >= 10 distinct learners each side.
-- Bounded at scale: a key's effect depends only on the results on its skill (every learner's),
-- so the statement computes every key of the skills in the hash sample ({sample:...} on the skill:
-- about 1 in n of the results and events, n as for the learner sample), exactly.
-- The evidence joins a result with the events of the same learner on items tagged with its skill
-- (learner and skill in the join, not the learner alone: fewer candidate pairs), and the
-- distinct-learner counts come from one row per (key, skill, learner), not count(distinct).
with p as (
  select cast(:t as timestamptz) as t, cast(:kept as timestamptz) as kept
), tags as (
  select distinct ci.id as content_id, ci.content_type, s.skill_id
  from content_items ci cross join lateral unnest(ci.skill_ids) as s(skill_id)
  where {sample:s.skill_id}
), res as (
  select r.id as rid, r.user_id, r.skill_id, r.score::float8 as score, r.submitted_at
  from assessment_results r cross join p
  where r.skill_id is not null and r.score is not null
    and r.submitted_at > p.t - interval '90 days' and r.submitted_at >= p.kept
    and r.submitted_at <= p.t and r.updated_at <= p.t and {sample:r.skill_id}
), ev as (  -- only events on the sampled skills' items; T and :kept as literals, so the planner
  -- sees the ~whole table it reads (one sequential scan, the items hashed, not the 2.3M events
  -- at M hashed and spilled to disk); without JIT (the check's settings) for that plan's cost
  select le.user_id, le.content_id, le.event_type = 'completed' as completed, le.occurred_at
  from learning_events le
  where le.content_id in (select content_id from tags) and le.occurred_at > cast(:t as timestamptz) - interval '104 days'
    and le.occurred_at >= cast(:kept as timestamptz) and le.occurred_at <= cast(:t as timestamptz)
    and le.updated_at <= cast(:t as timestamptz)
), ev_skill as materialized (  -- each evidence event once per skill of its item; materialized: the
  -- sample predicate makes res look like ~20 rows, and inlined the planner probed the events index
  -- once per result (2M heap rows at M, 24 s; this way one scan and a hash join: 12-14 s)
  select e.user_id, g.skill_id, g.content_id, g.content_type, e.completed, e.occurred_at
  from ev e join tags g using (content_id)
), used_item as (  -- (result, item): used, and completed when one of its events is a completion
  select r.rid, r.user_id, r.skill_id, r.score, e.content_id, e.content_type, bool_or(e.completed) as completed
  from res r
  join ev_skill e on e.user_id = r.user_id and e.skill_id = r.skill_id
                 and e.occurred_at <= r.submitted_at and e.occurred_at >= r.submitted_at - interval '14 days'
  group by r.rid, r.user_id, r.skill_id, r.score, e.content_id, e.content_type
), used as (  -- (result, key) for both kinds of key: the item, and its content type
  select rid, user_id, skill_id, score, 'item' as kind, content_id as key, completed from used_item
  union all
  select rid, user_id, skill_id, score, 'type', content_type, bool_or(completed)
  from used_item where content_type is not null
  group by rid, user_id, skill_id, score, content_type
), per_skill as materialized (  -- per skill: results (sum, count) and distinct learners, once
  select skill_id, sum(score) as s_sum, count(*) as s_n, count(distinct user_id) as s_learners
  from res group by skill_id
), learner_skill as (
  select user_id, skill_id, count(*) as n from res group by user_id, skill_id
), by_learner as (  -- per (key, skill, learner): the learner's used and treated results
  select kind, key, skill_id, user_id, count(*) as n_used, sum(score) as u_sum,
         count(*) filter (where completed) as t_n, sum(score) filter (where completed) as t_sum
  from used group by kind, key, skill_id, user_id
), sides as materialized (  -- distinct learners = the learners' rows counted; no control: every
  select b.kind, b.key, b.skill_id,  -- one of the learner's results on the skill used the key
         sum(b.t_sum) / nullif(sum(b.t_n), 0) as treated_mean,
         count(*) filter (where b.t_n > 0) as n_treated,
         sum(b.u_sum) as u_sum, sum(b.n_used) as u_n,
         count(*) filter (where b.n_used >= ls.n) as no_control
  from by_learner b join learner_skill ls using (user_id, skill_id)
  group by b.kind, b.key, b.skill_id
), effects as materialized (
  select s.kind, s.key, s.skill_id,
         s.treated_mean - (ps.s_sum - s.u_sum) / (ps.s_n - s.u_n) as effect
  from sides s join per_skill ps using (skill_id)
  where s.n_treated >= 10 and ps.s_learners - s.no_control >= 10 and ps.s_n > s.u_n
)
select kind, key, skill_id, effect from effects
