"""A hub with alerts on real Mosquitto, run in its own thread so synchronous selenium can drive the browser.

The fleet has coordinates, two towns and two departments: N1 (water gauge,
in alarm once its level passes 3.5 m), N2 (urban pole, online) and N3 (water
gauge in the other town, never reports: offline). N1's level has half an hour
of history so its chart has a shape.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import yaml

from citysense.contract import Channel, Reading, TelemetryBatch, encode, topic
from hub.demo.dashboard import dashboard_login_url
from hub.runtime import RunningHub
from tests.alerts.stack import Publisher, alerts_yaml, eventually, hub_and_agent, receivers, with_broker, write_files
from tests.harness.mosquitto import MosquittoServer

T = TypeVar("T")
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


class WebStack:
    """The hub and its fake notification receivers in a background event loop."""

    def __init__(self, root: Path, mosquitto: MosquittoServer) -> None:
        self.root, self.mosquitto = root, mosquitto
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.hub: RunningHub
        self.login_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="web-hub", daemon=True)

    def start(self) -> None:
        """Start the hub, ingest the fleet's data and wait until N1's alarm is open."""
        self._thread.start()
        if not self.ready.wait(60) or self.error is not None:
            raise RuntimeError("the hub for the browser tests did not start") from self.error

    def stop(self) -> None:
        """Stop the hub and wait for its thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the hub's loop and return its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread by start()
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        with receivers() as rx:
            settings = write_files(self.root, alerts_yaml(rx.webhook.url, rx.sms.url))
            (self.root / "fleet.yaml").write_text(yaml.safe_dump(FLEET, allow_unicode=True), encoding="utf-8")
            async with hub_and_agent(with_broker(settings, self.mosquitto)) as (hub, agent):
                self.hub, self._loop, self._stop = hub, asyncio.get_running_loop(), asyncio.Event()
                await self._seed(hub, agent)
                self.login_url = await dashboard_login_url(hub)
                self.ready.set()
                await self._stop.wait()

    async def _seed(self, hub: RunningHub, agent: Publisher) -> None:
        now = time.time_ns() // 1_000_000
        history = [
            Reading(device="gauge", metric="level", value=v, ts_ms=now - (30 - i) * 60_000, quality="good")
            for i, v in enumerate(HISTORY)
        ]
        agent.seq += 1
        batch = TelemetryBatch(node="N1", seq=agent.seq, sent_ms=now, readings=history)
        await agent.client.publish(topic("N1", Channel.TELEMETRY, agent.prefix), encode(batch), qos=1)
        await agent.reading("N2", "lamp", "power", 120)
        for v in (3.6, 3.7, 3.65):
            await agent.reading("N1", "gauge", "level", v)
        alerts = hub.alerts
        assert alerts is not None
        await eventually(lambda: bool(alerts.store.query("open", "N1.gauge", 10)), timeout_s=20, what="N1's alarm")
