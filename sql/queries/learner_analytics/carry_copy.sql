-- Carry-forward (analytics/store.py): the rows of the snapshot :tp of the table of the learners not
-- recomputed, copied as the rows of :t (expiring at :expires). The value columns.
insert into {table} (user_id, {columns}, calculated_at, expires_at)
select p.user_id, {columns}, :t, :expires
from {table} p
where p.calculated_at = :tp
  and not exists (select 1 from carry_dirty c where c.user_id = p.user_id)
