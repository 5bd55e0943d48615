"""sql: SELECT/INSERT/UPDATE/DELETE/UPSERT/RAW with bound parameters through SQLAlchemy."""
