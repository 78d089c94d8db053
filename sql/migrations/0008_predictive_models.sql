-- The predictive layer's fitted models, kept for their cache lifetime (docs/predictive.md):
-- the drop-off model (imputation fill, scaler, coefficients) and the item effects behind the
-- recommendations. A run at T reuses the newest row with calculated_at <= T < expires_at
-- instead of training again, so the learners recomputed on an incremental day are scored by
-- the same model as the cached rows of the others. Pipeline-internal: no learner data, no
-- grants (row-level security on, no policy: only the pipeline's owner role reads it).
CREATE TABLE predictive_models (
  analytics_type text NOT NULL,
  calculated_at  timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL,
  model          jsonb NOT NULL,
  PRIMARY KEY (analytics_type, calculated_at),
  CONSTRAINT predictive_models_expires_after_calculated CHECK (expires_at > calculated_at)
);
ALTER TABLE predictive_models ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON predictive_models FROM PUBLIC;
