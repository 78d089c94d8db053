-- Carry-forward (analytics/store.py): the transaction snapshot a run starts from (recorded with it).
select pg_current_snapshot()::text as seen
