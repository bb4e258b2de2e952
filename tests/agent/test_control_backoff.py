"""The agent's control channel rides out a stopped and a frozen broker with one WARNING per outage, and no
"Future exception was never retrieved" errors afterwards."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from pathlib import Path

import pytest

from edge_agent.app import Agent
from edge_agent.config import load_agent_config
from tests.agent.support import agent_config, counter_server, wait_for, write_site
from tests.harness import MosquittoServer
from tests.harness.tasks import running


async def test_control_channel_logs_one_warning_per_outage_and_leaves_no_unretrieved_futures(
    tmp_path: Path, mosquitto_fresh: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    write_site(tmp_path)
    async with counter_server() as modbus:
        path = agent_config(tmp_path, mosquitto_fresh.url, modbus.port, backoff_min_s=0.2, backoff_max_s=1)
        config, profiles = load_agent_config(path)
        config = config.model_copy(update={"hub": config.hub.model_copy(update={"keepalive_s": 5})})
        agent = Agent(config, profiles, tmp_path / "state")

        def back(n: int) -> bool:
            return sum("control channel back" in r.getMessage() for r in caplog.records) >= n

        async def connected() -> bool:
            return agent.uplink.connected.is_set()

        async with running(agent.run(), "test:agent"):
            await wait_for(connected, 20, "the agent connected")
            mosquitto_fresh.stop()  # outage 1: the broker is gone; retries every second at most
            await asyncio.sleep(8)
            mosquitto_fresh.start()

            async def back_once() -> bool:
                return back(1)

            await wait_for(back_once, 20, "the control channel back after the stop")
            pid = mosquitto_fresh._proc.pid  # type: ignore[union-attr]
            os.kill(pid, signal.SIGSTOP)  # outage 2: frozen; the keep-alive (5 s) notices
            await asyncio.sleep(12)
            os.kill(pid, signal.SIGCONT)

            async def back_twice() -> bool:
                return back(2)

            await wait_for(back_twice, 40, "the control channel back after the freeze")
    gc.collect()
    lost = [r for r in caplog.records if r.levelno == logging.WARNING and "control channel lost" in r.getMessage()]
    assert len(lost) == 2, [r.getMessage() for r in lost]
    unretrieved = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert unretrieved == []
