"""Jobs, schedules, partitions and the launcher of runs."""
