SELECT id, name, description, icon, tier, criteria FROM achievements ORDER BY id
