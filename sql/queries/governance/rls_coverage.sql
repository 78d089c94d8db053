-- Every per-learner table with RLS on and its three policies; "missing" rows are failures.
SELECT t.table_name,
       to_regclass(t.table_name) IS NOT NULL AS present,
       coalesce(c.relrowsecurity, false) AS rls_enabled,
       coalesce(c.relforcerowsecurity, false) AS rls_forced,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM per_learner_tables() t
LEFT JOIN pg_class c ON c.oid = to_regclass(t.table_name)
ORDER BY t.table_name
