-- The indexes of :table a first load may drop and build again after the rows (bulk.DeferredIndexes):
-- plain btree indexes on columns, neither unique nor backing a constraint. Name (schema-qualified),
-- definition (pg_get_indexdef: recreates it exactly), key and INCLUDE columns.
select quote_ident(n.nspname) || '.' || quote_ident(i.relname) as name,
       pg_get_indexdef(x.indexrelid) as definition,
       array(select a.attname from unnest(x.indkey) with ordinality k(attnum, pos)
             join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum order by k.pos) as columns
from pg_index x
join pg_class i on i.oid = x.indexrelid
join pg_namespace n on n.oid = i.relnamespace
join pg_am am on am.oid = i.relam
where x.indrelid = cast(:table as regclass) and am.amname = 'btree'
  and not x.indisunique and not x.indisexclusion and x.indexprs is null and x.indpred is null
  and not exists (select 1 from pg_constraint c where c.conindid = x.indexrelid)
order by i.relname
