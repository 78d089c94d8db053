select course_id, skill_id, target_level::float8 as target_level from course_skills
