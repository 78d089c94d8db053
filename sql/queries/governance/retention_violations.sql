-- Rows of {table} still past their limit (expected 0 after the retention asset).
SELECT count(*) FROM {table} WHERE {column} < :cutoff
