-- Move transactions older than the cutoff into the archive in one statement; an award already
-- archived (same activity_type and source_id) is not archived twice.
WITH moved AS (
  DELETE FROM {table} WHERE {column} < :cutoff
  RETURNING id, user_id, points, activity_type, metadata, "timestamp", source_id
), archived AS (
  INSERT INTO {archive_table} (id, user_id, points, activity_type, metadata, "timestamp", source_id, archived_at)
  SELECT id, user_id, points, activity_type, metadata, "timestamp", source_id, :archived_at FROM moved
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM archived) AS archived
