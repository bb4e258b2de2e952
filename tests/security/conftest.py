"""A Mosquitto with dynamic security of the test's own (findings are attacks on its state)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.mosquitto import MosquittoServer
from tests.harness.ports import HarnessError


@pytest.fixture
def dynsec_broker() -> Iterator[MosquittoServer]:
    server = MosquittoServer(dynsec=True)
    try:
        server.start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.close()
