-- The foreign keys of :table and, for each, a query counting its rows that name no parent (NULL
-- in any key column: not checked, as the key's MATCH SIMPLE) — bulk.check_foreign_keys,
-- after a first build that skipped the keys' row triggers.
select quote_ident(c.conname) as name, pg_get_constraintdef(c.oid) as definition,
       format('select count(*) from %s t where %s and not exists (select 1 from %s p where %s)',
              cast(c.conrelid as regclass), string_agg(format('t.%I is not null', a.attname), ' and '),
              cast(c.confrelid as regclass), string_agg(format('p.%I = t.%I', f.attname, a.attname), ' and ')) as orphans_sql
from pg_constraint c
cross join lateral unnest(c.conkey, c.confkey) as k(attnum, fattnum)
join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
join pg_attribute f on f.attrelid = c.confrelid and f.attnum = k.fattnum
where c.conrelid = cast(:table as regclass) and c.contype = 'f'
group by c.oid, c.conname, c.conrelid, c.confrelid
order by c.conname
