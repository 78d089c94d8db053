select id, expected_weeks::float8 as expected_weeks from courses
