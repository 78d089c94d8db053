-- Every index of the tables :tables that a rebuild from empty may drop and create again after
-- its rows (bulk.indexes_rebuilt_after): plain indexes and the ones backing a primary key or a
-- unique constraint (no other constraint may depend on them: such a table is left out whole).
-- drop_sql removes it (the constraint, or the index); create_sql recreates it exactly.
with idx as (
  select c.relname as table_name, x.indexrelid, i.relname as index_name, con.conname, con.oid as con_oid
  from pg_index x
  join pg_class c on c.oid = x.indrelid
  join pg_class i on i.oid = x.indexrelid
  left join pg_constraint con on con.conindid = x.indexrelid and con.conrelid = x.indrelid
                              and con.contype in ('p', 'u')
  where c.relnamespace = 'public'::regnamespace and c.relname = any(cast(:tables as text[]))
), blocked as (  -- a foreign key or another constraint that needs one of these indexes
  select distinct idx.table_name from idx
  join pg_constraint other on other.conindid = idx.indexrelid
                           and (idx.con_oid is null or other.oid <> idx.con_oid)
)
select table_name, index_name,
       case when conname is not null then format('alter table %I drop constraint %I', table_name, conname)
            else format('drop index %I', index_name) end as drop_sql,
       case when conname is not null then format('alter table %I add constraint %I %s', table_name, conname,
                                                 pg_get_constraintdef(con_oid))
            else pg_get_indexdef(indexrelid) end as create_sql
from idx
where table_name not in (select table_name from blocked)
order by table_name, (conname is null), index_name
