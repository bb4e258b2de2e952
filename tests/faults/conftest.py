"""Faults injected by hand, as an operator or a judge would: the registry database refusing every session."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.harness.postgres import PostgresServer
from tests.harness.server import started


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone (its database is taken away and given back)."""
    server = started(PostgresServer)
    yield server
    server.close()


def _admin(pg: PostgresServer, sql: str) -> None:
    user = pg.url.split("//", 1)[1].split("@", 1)[0]
    with psycopg.connect(host=pg.host, port=pg.port, user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)


def database_down(pg: PostgresServer) -> None:
    """Refuse every new session of the test database and end the open ones (as a restart or a failover does)."""
    _admin(pg, f'ALTER DATABASE "{pg.database}" ALLOW_CONNECTIONS false')
    _admin(pg, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{pg.database}'")


def database_up(pg: PostgresServer) -> None:
    """Accept sessions of the test database again."""
    _admin(pg, f'ALTER DATABASE "{pg.database}" ALLOW_CONNECTIONS true')
