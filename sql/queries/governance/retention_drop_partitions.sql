-- Whole monthly partitions whose upper bound is at or before the cutoff: detached, then dropped.
SELECT partition_name, rows_dropped FROM drop_partitions_before(:table, :cutoff)
