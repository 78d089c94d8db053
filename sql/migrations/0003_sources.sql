-- Sources layer: which run advanced a watermark; quarantine lookups by source row (deletions,
-- erasure and re-checks find a row's quarantined versions without scanning the table).
ALTER TABLE extraction_watermarks ADD COLUMN IF NOT EXISTS run_id text;
CREATE INDEX IF NOT EXISTS idx_quarantine_resource_source ON quarantine(resource, source_id);
CREATE INDEX IF NOT EXISTS idx_quarantine_run ON quarantine(run_id);
