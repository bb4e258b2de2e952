"""Alembic migrations of the registry tables (see ``docs/api.md``, "Schema migrations")."""
