-- The content effects the content-effectiveness snapshot of T = :t stored and used
-- (predictive_models, kind item_effects, calculated_at = T: {"effects": item columns,
-- "type_effects": content-type columns}): kind ('item' / 'type'), key, skill_id, effect.
select k.kind, e.key, e.skill_id, e.effect
from predictive_models m
cross join (values ('item', 'effects', 'content_id'), ('type', 'type_effects', 'content_type')) as k(kind, part, key_column)
cross join lateral unnest(
  array(select v from jsonb_array_elements_text(m.model #> array[k.part, k.key_column]) with ordinality x(v, o) order by o),
  array(select v from jsonb_array_elements_text(m.model #> array[k.part, 'skill_id']) with ordinality x(v, o) order by o),
  array(select v::float8 from jsonb_array_elements_text(m.model #> array[k.part, 'effect']) with ordinality x(v, o) order by o)
) as e(key, skill_id, effect)
where m.analytics_type = 'item_effects' and m.calculated_at = :t
