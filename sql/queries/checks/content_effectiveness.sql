-- Independent check: content effectiveness (content_effectiveness_analytics) as of T = :t in one
-- statement (docs/analytics.md "Content effectiveness", defaults), for the learners of the sample.
-- The cross-learner effects (kind, key, skill) are the ones the snapshot stored
-- (checks/stored_effects.sql); they are themselves checked against an independent computation over the raw
-- tables by checks/content_effects.sql (every key of a hash sample of skills). From them and the
-- raw tables: a key's effect = mean over its qualifying skills. Per active learner: items used in
-- W ranked by exact effect (ties: id), else the used types; recommendations: for the top 3 skill
-- gaps the best unused item with a positive effect on that skill.
with p as (
  select cast(:t as timestamptz) as t, cast(:kept as timestamptz) as kept
), effects as materialized (
{stored_effects}
), key_effect as materialized (
  select kind, key, round(avg(effect)::numeric, 9) as effect from effects group by kind, key
), skill_gaps as (  -- the skill-gap check's rows: one per active learner, gaps in priority order
{skill_gap}
), learners as (
  select user_id from skill_gaps
), usage as (  -- latest known, retained use of each item by each active learner
  select le.user_id, le.content_id, max(le.occurred_at) as last_used
  -- the learners' ids as one array: one bitmap scan of the (user_id, occurred_at) index and each
  -- heap page once, instead of one index probe per learner (the planner sees ~80 learners)
  from learning_events le
  where le.user_id = any (array(select user_id from learners)) and {sample:le.user_id}
    and le.content_id is not null and le.occurred_at <= cast(:t as timestamptz)
    and le.occurred_at >= cast(:kept as timestamptz) and le.updated_at <= cast(:t as timestamptz)
  group by le.user_id, le.content_id
), items as (
  select distinct on (id) id as content_id, title, content_type from content_items order by id
), in_w as (
  select u.user_id, u.content_id, i.title, i.content_type
  from usage u join items i using (content_id) cross join p
  where u.last_used > p.t - interval '28 days'
), cand_item as (
  select w.user_id, 'item' as kind, w.content_id as key, w.title, w.content_type, ke.effect
  from in_w w join key_effect ke on ke.kind = 'item' and ke.key = w.content_id
), cand_type as (  -- every used type with an effect; kept below only for learners without an item
  select distinct w.user_id, 'type' as kind, w.content_type as key, null::text as title, w.content_type, ke.effect
  from in_w w join key_effect ke on ke.kind = 'type' and ke.key = w.content_type
), cand as (  -- a window, not "not exists": the stored effects' row estimates made that a nested loop
  select * from (
    select c.*, bool_or(c.kind = 'item') over (partition by c.user_id) as has_item
    from (select * from cand_item union all select * from cand_type) c
  ) x where kind = 'item' or not has_item
), ranked as (
  select c.user_id, c.kind, c.key, c.title, c.content_type, c.effect,
         row_number() over (partition by c.user_id order by c.effect desc, c.key collate "C") as best,
         count(*) over (partition by c.user_id) as n
  from cand c
), lists as (
  select user_id,
         jsonb_agg(entry order by best) filter (where best <= 3) as most_effective,
         jsonb_agg(entry order by effect, key collate "C") filter (where best > 3 and worst <= 3) as least_effective
  from (
    select r.*, row_number() over (partition by r.user_id, r.best > 3 order by r.effect, r.key collate "C") as worst,
           case when r.kind = 'item'
                then jsonb_build_object('kind', 'item', 'contentId', r.key, 'title', r.title,
                                        'contentType', r.content_type, 'effect', round(r.effect, 2)::float8)
                else jsonb_build_object('kind', 'type', 'contentType', r.key, 'effect', round(r.effect, 2)::float8)
           end as entry
    from ranked r
  ) x
  group by user_id
), gaps as materialized (  -- the top 3 gaps; materialized (as positive): joined by hash on the skill
  select * from (
    select sg.user_id, g.value ->> 'skillId' as skill_id, g.value ->> 'skillName' as skill_name,
           g.ord - 1 as gap_rank
    from skill_gaps sg cross join lateral jsonb_array_elements(sg.gaps) with ordinality as g(value, ord)
  ) x where gap_rank < 3
), positive as materialized (
  select * from (
    select key as content_id, skill_id, effect,
           row_number() over (partition by skill_id order by effect desc, key collate "C") as place
    from effects where kind = 'item' and effect > 0
  ) x where place <= 50
), offers as (
  select g.user_id, g.gap_rank, g.skill_id, g.skill_name, o.content_id, o.effect
  from gaps g join positive o on o.skill_id = g.skill_id
  where not exists (select 1 from usage u where u.user_id = g.user_id and u.content_id = o.content_id)
), first_per_item as (
  select distinct on (user_id, content_id) * from offers
  order by user_id, content_id, gap_rank, effect desc
), first_per_gap as (
  select distinct on (user_id, gap_rank) * from first_per_item
  order by user_id, gap_rank, effect desc, content_id collate "C"
), recs as (
  select f.user_id,
         jsonb_agg('Try ''' || coalesce(i.title, f.content_id) || ''' (' || coalesce(i.content_type, 'content')
                   || ') for ' || coalesce(f.skill_name, f.skill_id) || ': learners who completed it scored '
                   || rtrim(rtrim(to_char(round(f.effect::numeric, 2), 'FM999999990.00'), '0'), '.')
                   || ' points higher on ' || coalesce(f.skill_name, f.skill_id) || ' assessments within 14 days.'
                   order by f.gap_rank) as recommendations
  from first_per_gap f left join items i using (content_id)
  group by f.user_id
)
select l.user_id, coalesce(x.most_effective, '[]'::jsonb) as most_effective,
       coalesce(x.least_effective, '[]'::jsonb) as least_effective,
       coalesce(r.recommendations, '[]'::jsonb) as recommendations
from learners l
left join lists x using (user_id)
left join recs r using (user_id)
