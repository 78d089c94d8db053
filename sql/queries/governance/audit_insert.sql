INSERT INTO governance_audit (action, target_table, rows_affected, detail, run_id)
VALUES (:action, :target_table, :rows_affected, CAST(:detail AS jsonb), :run_id)
