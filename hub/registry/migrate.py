"""Bring a registry database to the newest schema with Alembic (``hub/registry/migrations``).

Rule: every table on the registry database (the registry's own, and those
that ``hub.alerts``, ``hub.notify`` and ``hub.ingest`` define on the same
``Base``) is created and changed only by a migration. To change one, change
the models, run ``python -m hub.registry.migrate revision "what changed"`` and
review the generated file under ``migrations/versions/``; a test fails while
the models and the migrations differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from hub.errors import RegistryError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic configuration pointing at the registry's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine) -> None:
    """Upgrade the database to the head revision; refuse a pre-migration database."""
    tables = set(inspect(engine).get_table_names())
    if "nodes" in tables and "alembic_version" not in tables:
        raise RegistryError(
            f"registry database {engine.url.render_as_string()} predates migrations; "
            "delete it (the fleet file recreates it) or move it aside"
        )
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current(engine: Engine) -> str | None:
    """Return the revision the database is at."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev


def main(argv: list[str]) -> int:
    """``python -m hub.registry.migrate revision MESSAGE [URL]``: autogenerate a revision."""
    if len(argv) < 2 or argv[0] != "revision":
        print("usage: python -m hub.registry.migrate revision MESSAGE [URL]", file=sys.stderr)
        return 2
    from sqlalchemy import create_engine

    engine = create_engine(argv[2] if len(argv) > 2 else "sqlite:///var/migrate-scratch.db")
    upgrade(engine)
    cfg = alembic_config(engine)
    command.revision(cfg, message=argv[1], autogenerate=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
