"""A malformed command reply while the registry database is away costs a dead letter, not the hub.

The command session wrote the dead letter inside its receive loop: the
database error ended the session's task, and with it the hub's TaskGroup.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiomqtt

from citysense.contract import Channel, Command, topic
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.broker.commands import CommandCenter, CommandTimeout
from hub.ingest.deadletters import DeadLetterSink
from hub.ingest.stats import IngestStats
from hub.registry.service import Registry
from tests.faults.conftest import database_down, database_up
from tests.harness.mosquitto import MosquittoServer
from tests.harness.postgres import PostgresServer

PREFIX = "citysense/v1"


async def test_a_bad_reply_during_a_database_outage_leaves_the_command_session_up(
    mosquitto_fresh: MosquittoServer, pg: PostgresServer
) -> None:
    registry = Registry(pg.url)
    try:
        await asyncio.to_thread(registry.migrate)
        stats = IngestStats()
        dead = DeadLetterSink(registry, stats)
        broker = mosquitto_fresh.host, mosquitto_fresh.port
        center = CommandCenter(*broker, username=None, password=None, prefix=PREFIX, client_id="test-hub", dead=dead)
        task = asyncio.create_task(center.run(), name="test:commands")
        try:
            await asyncio.sleep(1)  # the session is up
            cmd = Command(id="c1", node="N1", action="ping", expires_ms=int(time.time() * 1000) + 60_000)
            sending = asyncio.create_task(center.send(cmd, timeout_s=3), name="test:send")
            await asyncio.sleep(0.5)  # the command is out and its reply awaited
            database_down(pg)
            async with aiomqtt.Client(mosquitto_fresh.host, mosquitto_fresh.port, identifier="test-node") as node:
                await node.publish(topic("N1", Channel.COMMAND_REPLY, PREFIX), b"{not json", qos=1)
            with contextlib.suppress(CommandTimeout):  # the node never answers properly
                await sending
            assert not task.done(), task.exception() if task.done() else None  # it ended here with the DB error
            assert stats.dead_letters  # counted even though the database did not take the row
        finally:
            database_up(pg)
            await cancel_and_wait([task], grace_s=STOP_GRACE_S)
            await asyncio.gather(task, return_exceptions=True)
    finally:
        registry.engine.dispose()
