"""Routine InfluxDB writes stay out of the hub's INFO log; a periodic summary line says what ingest did."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

import aiomqtt
import pytest

from citysense.contract import Channel, Reading, TelemetryBatch, encode, topic
from hub.config import InfluxSettings
from tests.agent.support import hub_on, wait_for
from tests.harness import InfluxServer, MosquittoServer


async def test_writes_log_one_summary_line_not_one_line_each(
    tmp_path: Path, mosquitto_fresh: MosquittoServer, influx: InfluxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store = InfluxSettings(url=influx.url, database=f"logs_{time.time_ns()}", retention=None)
    async with hub_on(tmp_path, mosquitto_fresh.url, influx=store, ingest_summary_s=1.0) as hub:
        now = time.time_ns() // 1_000_000
        async with aiomqtt.Client(mosquitto_fresh.host, mosquitto_fresh.port) as client:
            for seq in range(20):
                r = Reading(device="c1", metric="count", value=seq, ts_ms=now - 20_000 + seq)
                batch = TelemetryBatch(node="N1", seq=seq, sent_ms=now, readings=[r])
                await client.publish(topic("N1", Channel.TELEMETRY), encode(batch), qos=1)

        async def stored() -> bool:
            return hub.services.stats.readings_stored == 20

        await wait_for(stored, 20, "20 readings stored")

        await asyncio.sleep(2.5)  # at least one summary interval after the last write
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [m for m in lines if "HTTP Request" in m]  # httpx's per-request lines are DEBUG-only here
    counts = [re.search(r"(\d+) messages, (\d+) readings stored", m) for m in lines if "readings stored in" in m]
    assert [sum(int(c.group(i)) for c in counts if c) for i in (1, 2)] == [20, 20]  # every message summarised
