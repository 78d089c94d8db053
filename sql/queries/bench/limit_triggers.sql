-- The user triggers of public.<:table> (bench.limits.create_limit_table copies them onto the COPY
-- limit's table): the definition, and the source of the function each one executes (to find the
-- tables the function reads or writes).
select pg_get_triggerdef(t.oid) as definition, p.prosrc as source
from pg_trigger t join pg_proc p on p.oid = t.tgfoid
where t.tgrelid = cast('public.' || :table as regclass) and not t.tgisinternal
order by t.tgname
