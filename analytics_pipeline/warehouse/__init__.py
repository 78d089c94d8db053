"""The warehouse: embedded server, engines, migrations, bulk reads and writes."""
from analytics_pipeline.warehouse.bulk import copy_frame, read_frame, replace_snapshot, sql_text
from analytics_pipeline.warehouse.engine import check_connection, ensure_database, make_engine
from analytics_pipeline.warehouse.errors import WarehouseError
from analytics_pipeline.warehouse.migrate import migrate

__all__ = [
    "WarehouseError",
    "check_connection",
    "copy_frame",
    "ensure_database",
    "make_engine",
    "migrate",
    "read_frame",
    "replace_snapshot",
    "sql_text",
]
