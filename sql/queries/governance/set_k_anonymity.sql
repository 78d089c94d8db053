INSERT INTO pipeline_settings (key, value, updated_at) VALUES ('k_anonymity', to_jsonb(CAST(:k AS integer)), now())
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
WHERE pipeline_settings.value IS DISTINCT FROM EXCLUDED.value
