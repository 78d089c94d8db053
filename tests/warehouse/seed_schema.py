"""Reads the seed document: its Prisma models (tables, columns, types) and its index strategy."""
from __future__ import annotations

import re

from analytics_pipeline.settings import reference_file

PRISMA_TYPES = {"String": "text", "Int": "integer", "Json": "jsonb", "DateTime": "timestamp with time zone"}


def seed_text() -> str:
    return reference_file("seed/database-architecture.md").read_text()


def seed_tables() -> dict[str, dict[str, tuple[str, bool]]]:
    """{table: {column: (postgres type, nullable)}} from the seed's Prisma schema."""
    tables = {}
    for body in re.findall(r"model \w+ \{(.*?)\n\}", seed_text(), flags=re.S):
        table = re.search(r'@@map\("(\w+)"\)', body).group(1)
        columns = {}
        for line in body.splitlines():
            match = re.match(r"\s+(\w+)\s+(String|Int|Json|DateTime|Decimal)(\?)?(.*)", line)
            if not match:
                continue
            field, prisma_type, optional, rest = match.groups()
            name_match = re.search(r'@map\("(\w+)"\)', rest)
            name = name_match.group(1) if name_match else field
            if prisma_type == "Decimal":
                precision = re.search(r"@db\.Decimal\((\d+),\s*(\d+)\)", rest).groups()
                pg_type = f"numeric({precision[0]},{precision[1]})"
            elif "@db.Date" in rest:
                pg_type = "date"
            else:
                pg_type = PRISMA_TYPES[prisma_type]
            columns[re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()] = (pg_type, bool(optional))
        tables[table] = columns
    return tables


def seed_indexes() -> dict[str, str]:
    """{index name: table} of every CREATE INDEX in the seed (strategy and views)."""
    return dict(re.findall(r"CREATE INDEX (\w+)\s+ON (\w+)", seed_text()))


def seed_materialized_views() -> list[str]:
    return re.findall(r"CREATE MATERIALIZED VIEW (\w+)", seed_text())
