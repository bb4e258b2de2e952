"""A live PostgreSQL server for the registry tests (session-scoped; each test uses its own schema state)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.ports import HarnessError
from tests.harness.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session."""
    try:
        server = PostgresServer()
        server.start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.close()
