-- Carry-forward (analytics/store.py): the value columns of :table (all but the key and stamps).
select column_name from information_schema.columns
where table_schema = 'public' and table_name = :table
  and column_name not in ('id', 'user_id', 'calculated_at', 'expires_at')
order by ordinal_position
