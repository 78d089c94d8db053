SELECT count(*) FROM erasure_requests WHERE processed_at IS NULL
