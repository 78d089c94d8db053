SELECT course_id, skill_id, target_level::float8 AS target_level FROM course_skills
