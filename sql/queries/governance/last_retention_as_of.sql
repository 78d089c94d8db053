-- T of the retention run being checked: this run's, else the latest one.
SELECT (detail ->> 'as_of')::timestamptz
FROM governance_audit
WHERE action = 'retention'
ORDER BY (run_id IS NOT DISTINCT FROM :run_id) DESC, performed_at DESC, id DESC
LIMIT 1
