"""Fixtures for real servers (``tests.harness``) shared by every test package.

Session-scoped servers serve tests that only talk to them; the ``*_fresh``
variants give one test its own server to stop and restart. A missing binary
FAILS the test with the command that installs it: a skipped integration test
looks like a passing one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness import InfluxServer, MosquittoServer
from tests.harness.server import started


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[MosquittoServer]:
    """A broker for the whole session; do not stop it (use ``mosquitto_fresh``)."""
    server = started(MosquittoServer)
    yield server
    server.close()


@pytest.fixture
def mosquitto_fresh() -> Iterator[MosquittoServer]:
    """A broker of this test alone, free to stop and restart."""
    server = started(MosquittoServer)
    yield server
    server.close()


@pytest.fixture
def dynsec_broker() -> Iterator[MosquittoServer]:
    """A broker of this test alone with the dynamic-security plugin, as production runs it."""
    server = started(lambda: MosquittoServer(dynsec=True))
    yield server
    server.close()


@pytest.fixture(scope="session")
def influx() -> Iterator[InfluxServer]:
    """An InfluxDB 1.x server for the whole session; use a database of your own, do not stop it."""
    server = started(InfluxServer)
    yield server
    server.close()


@pytest.fixture
def influx_fresh() -> Iterator[InfluxServer]:
    """An InfluxDB server of this test alone, free to stop and start again."""
    server = started(InfluxServer)
    yield server
    server.close()


_MARKS = {
    "mosquitto": "mosquitto",
    "mosquitto_fresh": "mosquitto",
    "influx": "influxdb",
    "influx_fresh": "influxdb",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the servers they use, so ``-m "not influxdb"`` selects without them."""
    for item in items:
        for name in set(getattr(item, "fixturenames", ())) & _MARKS.keys():
            item.add_marker(getattr(pytest.mark, _MARKS[name]))
