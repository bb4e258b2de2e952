"""A frozen PostgreSQL server (SIGSTOP: a paused VM, packets dropped) fails the hub's queries instead of hanging them.

A query that hangs holds one of the few worker threads for ever; enough of
them and the hub's spool, store and API wait behind them. With a bounded
connect the query fails as "unavailable" and is retried like an outage.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from sqlalchemy.exc import OperationalError

from hub.registry.outage import db_unavailable
from hub.registry.service import Registry
from tests.harness.postgres import PostgresServer


async def test_a_query_on_a_frozen_server_fails_as_unavailable(pg: PostgresServer) -> None:
    setup = Registry(pg.url)
    setup.migrate()
    setup.engine.dispose()  # no open connection: the next query must connect to the frozen server
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGSTOP)
    try:
        registry = Registry(pg.url)
        async with asyncio.timeout(20):  # it hung here for ever
            with pytest.raises(OperationalError) as caught:
                await asyncio.to_thread(registry.list_nodes)
        assert db_unavailable(caught.value)
        registry.engine.dispose()
    finally:
        os.kill(postmaster, signal.SIGCONT)
