"""A hub with alerts on real Mosquitto and a small fleet with coordinates, for the browser tests.

The fleet has coordinates, two towns and two departments: N1 (water gauge,
in alarm once its level passes 3.5 m), N2 (urban pole, online) and N3 (water
gauge in the other town, never reports: offline). N1's level has half an hour
of history so its chart has a shape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from citysense.contract import (
    AgentHealth,
    Channel,
    DeviceHealth,
    NodeStatus,
    Reading,
    TelemetryBatch,
    encode,
    topic,
)
from hub.demo.run import duty_officer_token
from hub.runtime import RunningHub
from tests.alerts.stack import Publisher, alerts_yaml, eventually, hub_and_agent, receivers, with_broker, write_files
from tests.harness.mosquitto import MosquittoServer

T1, T2, V1 = "440981103", "440981104", "440981103201"
EP = {"bus": {"host": "127.0.0.1", "port": 1}}
FLEET = {
    "regions": [
        {"code": "440981", "name": "高州市", "level": "city"},
        {"code": T1, "name": "石鼓镇", "level": "town", "parent": "440981"},
        {"code": T2, "name": "分界镇", "level": "town", "parent": "440981"},
        {"code": V1, "name": "某村", "level": "village", "parent": T1},
    ],
    "departments": [{"id": "water", "name": "水务局"}, {"id": "urban", "name": "城管局"}],
    "nodes": [
        {"id": "N1", "kind": "gauge_site", "name": "鉴江水位站", "region": V1, "latitude": 21.93, "longitude": 110.86,
         "endpoints": EP},
        {"id": "N2", "kind": "pole_site", "name": "府前路灯杆", "region": T1, "latitude": 21.92, "longitude": 110.88,
         "endpoints": EP},
        {"id": "N3", "kind": "gauge_site", "name": "分界水位站", "region": T2, "latitude": 21.82, "longitude": 110.95,
         "endpoints": EP},
    ],
}  # fmt: skip
HISTORY = [2.0 + 0.04 * i for i in range(30)]  # one reading a minute for the last half hour, below the warning line


@dataclass
class WebHub:
    """A running hub and a duty officer's login link to its dashboard."""

    hub: RunningHub
    login_url: str


async def login_url(hub: RunningHub) -> str:
    """The dashboard link that signs in as the demo's duty officer (as ``citysense-demo`` prints it)."""
    return f"{hub.api_url}/ui/#token={await asyncio.to_thread(duty_officer_token, hub)}"


@asynccontextmanager
async def fleet_hub(root: Path, mosquitto: MosquittoServer) -> AsyncIterator[WebHub]:
    """The hub over SQLite with alerts, fed through Mosquitto; N1's alarm is open when this yields."""
    with receivers() as rx:
        settings = write_files(root, alerts_yaml(rx.webhook.url, rx.sms.url))
        (root / "fleet.yaml").write_text(yaml.safe_dump(FLEET, allow_unicode=True), encoding="utf-8")
        async with hub_and_agent(with_broker(settings, mosquitto)) as (hub, agent):
            await _seed(hub, agent)
            yield WebHub(hub, await login_url(hub))


async def _seed(hub: RunningHub, agent: Publisher) -> None:
    now = time.time_ns() // 1_000_000
    history = [
        Reading(device="gauge", metric="level", value=v, ts_ms=now - (30 - i) * 60_000, quality="good")
        for i, v in enumerate(HISTORY)
    ]
    agent.seq += 1
    batch = TelemetryBatch(node="N1", seq=agent.seq, sent_ms=now, readings=history)
    await agent.client.publish(topic("N1", Channel.TELEMETRY, agent.prefix), encode(batch), qos=1)
    await agent.reading("N2", "lamp", "power", 120)
    health = AgentHealth(queue_depth=12, queue_oldest_s=3.5, queue_bytes=4096, dropped=0, unacked_batches=2,
                         oldest_unacked_s=1.5, devices=[DeviceHealth(device="gauge", state="ok", rtt_ms=8.3,
                                                                     reads_ok=40, reads_failed=1)])  # fmt: skip
    status = NodeStatus(node="N1", state="online", session="s1", ts_ms=now, health=health)
    await agent.client.publish(topic("N1", Channel.STATUS, agent.prefix), encode(status), qos=1, retain=True)
    for v in (3.6, 3.7, 3.65):
        await agent.reading("N1", "gauge", "level", v)
    alerts = hub.alerts
    assert alerts is not None
    await eventually(lambda: bool(alerts.store.query("open", "N1.gauge", 10)), timeout_s=20, what="N1's alarm")
