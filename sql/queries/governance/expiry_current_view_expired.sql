-- Rows a current view serves although they have expired.
SELECT count(*) FROM {view} WHERE expires_at <= now()
