SELECT id, name FROM skills
