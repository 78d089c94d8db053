-- bench/carry.py: every row of the snapshot :t of {table}
select * from {table} where calculated_at = :t
