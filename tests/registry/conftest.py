"""A live PostgreSQL server for the registry tests (session-scoped; each test uses its own schema state)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.postgres import PostgresServer
from tests.harness.server import started


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session."""
    server = started(PostgresServer)
    yield server
    server.close()
