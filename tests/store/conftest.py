"""The ``store`` fixture: every behavioural test runs once per back end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.store.base import Store
from hub.store.influx_v1 import InfluxV1Store
from hub.store.sqlite import SqliteStore
from tests.harness import InfluxServer


@pytest.fixture(params=["sqlite", "influx"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A started, empty store: SQLite in ``tmp_path`` or a fresh database on the session's InfluxDB."""
    s: Store
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "readings.db")
    else:
        server: InfluxServer = request.getfixturevalue("influx")
        s = InfluxV1Store(server.url, f"test_{uuid.uuid4().hex[:12]}", timeout_s=10.0)
    await s.start()
    yield s
    await s.close()
