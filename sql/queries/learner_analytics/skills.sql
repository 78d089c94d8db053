select id, name from skills
