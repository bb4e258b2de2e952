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
    "users", "api_tokens", "node_credentials", "audit_log", "login_failures",
}  # fmt: skip
OTHER_TABLES = {  # alarms, notification outbox, ingest state: on the same database since revision 0002
    "alarms", "alarm_events", "alert_eval_states", "alert_silences", "notify_outbox", "ingest_stored_batches",
    "stations", "station_reports", "alert_fences",
}  # fmt: skip


def _check(reg: Registry) -> None:
    reg.migrate()
    assert migrate.current(reg.engine) == "0009"
    tables = set(inspect(reg.engine).get_table_names())
    assert tables == REGISTRY_TABLES | OTHER_TABLES | {"alembic_version"}
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
    """Autogenerate finds nothing to add: the revisions cover every table on the database as modelled."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    reg = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    migrate.upgrade(reg.engine)
    with reg.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_a_database_from_before_0002_keeps_its_alarms(tmp_path: Path) -> None:
    """Hubs of revision 0001 created the alarm tables with create_all; upgrading adopts them, rows kept."""
    from alembic import command

    reg = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    cfg = migrate.alembic_config(reg.engine)
    with reg.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    reg.create_all()  # what the hub did after the upgrade back then
    with reg.engine.begin() as conn:
        conn.execute(text("INSERT INTO alert_silences (match_json, starts_ms, ends_ms, created_by, comment) "
                          "VALUES ('{}', 1, 2, 'duty', 'pump maintenance')"))  # fmt: skip
    reg.migrate()
    assert migrate.current(reg.engine) == "0009"
    with reg.engine.connect() as conn:
        assert conn.execute(text("SELECT comment FROM alert_silences")).scalar_one() == "pump maintenance"


def test_pre_migration_database_is_refused(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE nodes (id TEXT PRIMARY KEY)"))
    with pytest.raises(RegistryError, match="predates migrations"):
        migrate.upgrade(engine)


def test_postgres_stores_millisecond_times_of_alarms_and_notifications(postgres: PostgresServer) -> None:
    """PostgreSQL's INTEGER is 32 bits: an alarm raised now (ms since 1970) overflowed it before revision 0008."""
    from alembic import command

    postgres.admin('CREATE DATABASE "times"')
    engine = create_engine(postgres.url.rsplit("/", 1)[0] + "/times")
    cfg = migrate.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007")  # a hub of the previous release, with a silence in its tables
        conn.execute(text("INSERT INTO alert_silences (match_json, starts_ms, ends_ms, created_by, comment) "
                          "VALUES ('{}', 1, 2, 'duty', 'kept')"))  # fmt: skip
    migrate.upgrade(engine)
    now_ms = 1_796_193_763_331
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alarms (device, node, rule_id, kind, metric, region_code, department_id, state,"
                          " is_open, severity, peak_severity, raised_ms, escalation_step, notify_count, assignee,"
                          " acked_by, notify_reason) VALUES ('N1.d', 'N1', 'high', 'threshold', 'level', '', '',"
                          " 'active', true, 2, 2, :t, 0, 0, '', '', '')"), {"t": now_ms})  # fmt: skip
        conn.execute(text("INSERT INTO notify_outbox (id, alarm_ids, channel, kind, recipient, message_json, status,"
                          " attempts, next_attempt_ms, last_error, created_ms, provider_id, receipt, day)"
                          " VALUES ('m1', '1', 'hook', 'webhook', '', '{}', 'pending', 0, :t, '', :t, '', '', '')"),
                     {"t": now_ms})  # fmt: skip
        assert conn.execute(text("SELECT raised_ms FROM alarms")).scalar_one() == now_ms
        assert conn.execute(text("SELECT next_attempt_ms FROM notify_outbox")).scalar_one() == now_ms
        assert conn.execute(text("SELECT comment FROM alert_silences")).scalar_one() == "kept"
    engine.dispose()
