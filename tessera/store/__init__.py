"""The statement store: tables, migrations and queries on SQLite or PostgreSQL."""
