-- Rows of {table} whose expiry is not after their calculation.
SELECT count(*) FROM {table} WHERE NOT (expires_at > calculated_at)
