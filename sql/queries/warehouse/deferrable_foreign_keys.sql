-- The foreign keys of :table (bulk.DeferredForeignKeys: dropped for a first build under the
-- table's ACCESS EXCLUSIVE lock and added again after its rows): name, definition
-- (pg_get_constraintdef: recreates it exactly) and the referenced table.
select quote_ident(c.conname) as name, pg_get_constraintdef(c.oid) as definition,
       cast(c.confrelid as regclass)::text as referenced
from pg_constraint c
where c.conrelid = cast(:table as regclass) and c.contype = 'f' and c.conparentid = 0
order by c.conname
