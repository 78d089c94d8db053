-- Carry-forward (analytics/store.py): the run record of the snapshot :tp of :table and the rows
-- that snapshot holds now (an erasure since removes some; a dropped partition all).
select r.path, r.written_at, now() - r.written_at as age, r.fingerprint, r.catalog_fingerprint, r.read_snapshot::text as read_snapshot, r.rows,
       (select count(*) from {table} p where p.calculated_at = :tp) as rows_now
from analytics_snapshot_runs r
where r.table_name = :table and r.calculated_at = :tp
