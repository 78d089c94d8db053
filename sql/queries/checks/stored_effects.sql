-- The content effects the content-effectiveness snapshot of T = :t stored and used
-- (predictive_models, kind item_effects, calculated_at = T: {"effects": item columns,
-- "type_effects": content-type columns}): kind ('item' / 'type'), key, skill_id, effect.
select 'item' as kind, e.key, e.skill_id, e.effect
from predictive_models m cross join lateral unnest(
  array(select v from jsonb_array_elements_text(m.model #> '{effects,content_id}') with ordinality x(v, o) order by o),
  array(select v from jsonb_array_elements_text(m.model #> '{effects,skill_id}') with ordinality x(v, o) order by o),
  array(select v::float8 from jsonb_array_elements_text(m.model #> '{effects,effect}') with ordinality x(v, o) order by o)
) as e(key, skill_id, effect)
where m.analytics_type = 'item_effects' and m.calculated_at = :t
union all
select 'type', e.key, e.skill_id, e.effect
from predictive_models m cross join lateral unnest(
  array(select v from jsonb_array_elements_text(m.model #> '{type_effects,content_type}') with ordinality x(v, o) order by o),
  array(select v from jsonb_array_elements_text(m.model #> '{type_effects,skill_id}') with ordinality x(v, o) order by o),
  array(select v::float8 from jsonb_array_elements_text(m.model #> '{type_effects,effect}') with ordinality x(v, o) order by o)
) as e(key, skill_id, effect)
where m.analytics_type = 'item_effects' and m.calculated_at = :t
