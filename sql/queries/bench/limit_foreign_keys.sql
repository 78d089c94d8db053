-- The foreign keys of public.<:table> (bench.limits.create_limit_table adds them to the keyed COPY
-- limit's table): each key's columns and the parent table and columns it references.
select (select string_agg(quote_ident(a.attname), ', ' order by k.n)
        from unnest(c.conkey) with ordinality k(att, n)
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.att) as columns,
       p.relname as parent,
       (select string_agg(quote_ident(a.attname), ', ' order by k.n)
        from unnest(c.confkey) with ordinality k(att, n)
        join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.att) as parent_columns
from pg_constraint c join pg_class p on p.oid = c.confrelid
where c.conrelid = cast('public.' || :table as regclass) and c.contype = 'f'
order by c.conname
