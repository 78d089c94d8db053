-- Partitions of :table whose whole range is past the cutoff (expected none after retention).
SELECT c.relname
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass(:table) AND partition_upper_bound(c.oid) <= :cutoff
ORDER BY c.relname
