-- The indexes of :table that no constraint or upsert needs (not primary, not unique, not an
-- exclusion): name and definition, to drop them before a bulk load and build them after.
SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = to_regclass(:table)
  AND NOT i.indisprimary AND NOT i.indisunique AND NOT i.indisexclusion
ORDER BY c.relname
