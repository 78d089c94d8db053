-- Course runs (contract 1.1: null starts_at/ends_at = a self-paced course).
SELECT id, starts_at, ends_at, expected_weeks FROM courses
