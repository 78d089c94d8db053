-- Contract 1.1: optional course runs and deadlines (reference/contracts/lms-api.openapi.yaml).
-- starts_at/ends_at null = a self-paced course; due_at null = no deadline; weight null = ungraded.
ALTER TABLE courses ADD COLUMN starts_at timestamptz, ADD COLUMN ends_at timestamptz;
ALTER TABLE courses ADD CONSTRAINT courses_run_order CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at >= starts_at);
ALTER TABLE content_items ADD COLUMN due_at timestamptz, ADD COLUMN weight numeric(5,2) CHECK (weight BETWEEN 0 AND 100);
CREATE INDEX idx_content_items_due ON content_items(course_id, due_at) WHERE due_at IS NOT NULL;
