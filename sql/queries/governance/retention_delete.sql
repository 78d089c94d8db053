-- Rows of {table} past their limit ({column} before the cutoff). {table}/{column} come from governance/policy.py.
DELETE FROM {table} WHERE {column} < :cutoff
