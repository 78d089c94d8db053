-- Carry-forward (analytics/store.py): the distribution column of the carried rows of :t.
select p.{column} from {table} p
where p.calculated_at = :t and not exists (select 1 from carry_dirty c where c.user_id = p.user_id)
