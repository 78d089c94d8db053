-- Carry-forward (analytics/store.py): record the snapshot :t of :table (same transaction).
insert into analytics_snapshot_runs (table_name, calculated_at, path, fingerprint, catalog_fingerprint,
                                     read_snapshot, rows, learners_recomputed, learners_carried)
values (:table, :t, :path, :fingerprint, :catalog_fingerprint, cast(:seen as pg_snapshot), :rows,
        :recomputed, :carried)
on conflict (table_name, calculated_at) do update set
  path = excluded.path, fingerprint = excluded.fingerprint,
  catalog_fingerprint = excluded.catalog_fingerprint, read_snapshot = excluded.read_snapshot,
  rows = excluded.rows, learners_recomputed = excluded.learners_recomputed,
  learners_carried = excluded.learners_carried, written_at = now()
