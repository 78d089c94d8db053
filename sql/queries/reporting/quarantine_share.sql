-- Quarantined rows per resource against the rows loaded (extraction_watermarks.rows_loaded).
WITH q AS (SELECT resource, count(*)::bigint AS quarantined FROM quarantine GROUP BY resource),
     w AS (SELECT resource, rows_loaded FROM extraction_watermarks)
SELECT coalesce(q.resource, w.resource) AS resource,
       coalesce(q.quarantined, 0)::bigint AS quarantined,
       coalesce(w.rows_loaded, 0)::bigint AS loaded
FROM q FULL JOIN w ON w.resource = q.resource
ORDER BY 1
