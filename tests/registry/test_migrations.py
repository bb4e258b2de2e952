"""The registry schema comes from Alembic migrations, on SQLite and on a live PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from hub.errors import RegistryError
from hub.registry import migrate
from hub.registry.models import Base, Region
from hub.registry.service import Registry
from tests.harness.postgres import PostgresServer

REGISTRY_TABLES = {
    "regions", "departments", "nodes", "devices", "dead_letters", "node_kinds", "profiles",
    "users", "api_tokens", "node_credentials", "audit_log",
}  # fmt: skip


def _check(reg: Registry) -> None:
    reg.migrate()
    assert migrate.current(reg.engine) == "0001"
    tables = set(inspect(reg.engine).get_table_names())
    assert tables >= REGISTRY_TABLES | {"alembic_version"}
    reg.migrate()  # a second start is a no-op
    with reg.session() as s, s.begin():
        s.add(Region(code="440981", name="Gaozhou", level="city"))
    assert reg.region_subtree("440981") == {"440981"}


def test_sqlite_upgrades_to_head(tmp_path: Path) -> None:
    _check(Registry(f"sqlite:///{tmp_path / 'r.db'}"))


def test_postgres_upgrades_to_head(postgres: PostgresServer) -> None:
    reg = Registry(postgres.url)
    _check(reg)
    reg.engine.dispose()


def test_migration_matches_models(tmp_path: Path) -> None:
    """Autogenerate finds nothing to add: the revision covers every registry table as modelled."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    reg = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    migrate.upgrade(reg.engine)
    with reg.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    def other_package(d: tuple[object, ...]) -> bool:  # tables (and their indexes) that create_all owns
        obj = d[1]
        table = obj if d[0] == "add_table" else getattr(obj, "table", None) if d[0] == "add_index" else None
        return table is not None and getattr(table, "name", None) not in REGISTRY_TABLES

    ours = [d for d in diff if not other_package(d)]
    assert ours == []


def test_pre_migration_database_is_refused(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE nodes (id TEXT PRIMARY KEY)"))
    with pytest.raises(RegistryError, match="predates migrations"):
        migrate.upgrade(engine)
