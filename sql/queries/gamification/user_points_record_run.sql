-- The run of update_user_points just done (same transaction): the instant computed as of, the
-- fingerprint of rules and code, and the snapshot it started from (:seen).
INSERT INTO pipeline_settings (key, value, updated_at)
VALUES ('gamification_user_points_run',
        jsonb_build_object('as_of', CAST(:as_of AS timestamptz), 'fingerprint', CAST(:fingerprint AS text),
                           'seen', CAST(:seen AS text), 'written_at', now()),
        now())
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
