"""The operator sees a stopped or frozen broker and a down store on /api/v1/health; node health on /nodes, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.app import Agent
from edge_agent.config import load_agent_config
from hub.config import InfluxSettings
from hub.runtime import RunningHub
from tests.agent.support import agent_config, counter_server, hub_on, wait_for
from tests.harness import InfluxServer, MosquittoServer

FAST = {"broker_ping_s": 1.0, "broker_silent_after_s": 4.0, "store_ping_s": 1.0}


async def get(hub: RunningHub, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=hub.api_url, timeout=5) as client:
        return await client.get(path, headers={"Authorization": f"Bearer {hub.admin_token}"})


async def until(hub: RunningHub, path: str, check: Callable[[httpx.Response], bool], what: str, s: float = 30) -> None:
    async def holds() -> bool:
        return check(await get(hub, path))

    await wait_for(holds, s, what)


@contextlib.asynccontextmanager
async def hub_and_agent(root: Path, broker: MosquittoServer) -> AsyncIterator[RunningHub]:
    """A hub (fast broker and store pings) and node N1's agent (health every second) polling two counters."""
    async with counter_server() as modbus, hub_on(root, broker.url, **FAST) as hub:
        config, profiles = load_agent_config(agent_config(root, broker.url, modbus.port, status_interval_s=1))
        async with asyncio.TaskGroup() as tg:
            running = tg.create_task(Agent(config, profiles, root / "state").run(), name="test:agent")
            try:
                yield hub
            finally:
                await cancel_and_wait([running], grace_s=STOP_GRACE_S)


def broker_is(*states: str) -> Callable[[httpx.Response], bool]:
    return lambda r: r.status_code == 503 and r.json()["broker"]["state"] in states


def node(resp: httpx.Response) -> dict[str, Any]:
    found: list[dict[str, Any]] = [n for n in resp.json() if n["id"] == "N1"]
    assert len(found) == 1
    return found[0]


async def test_broker_stopped_or_frozen_shows_on_health_and_node_liveness_then_recovers(
    tmp_path: Path, mosquitto_fresh: MosquittoServer
) -> None:
    async with hub_and_agent(tmp_path, mosquitto_fresh) as hub:
        await until(hub, "/api/v1/health", lambda r: r.status_code == 200 and r.json()["status"] == "ok", "ok")
        await until(hub, "/api/v1/nodes", lambda r: node(r)["liveness"] == "online", "N1 online")

        mosquitto_fresh.stop()
        await until(hub, "/api/v1/health", broker_is("unreachable"), "health not ok with the broker stopped")
        body = (await get(hub, "/api/v1/health")).json()
        assert body["status"] == "degraded" and any("broker" in p for p in body["problems"])
        n1 = node(await get(hub, "/api/v1/nodes"))
        assert (n1["liveness"], n1["online"]) == ("unknown", False)

        mosquitto_fresh.start()
        await until(hub, "/api/v1/health", lambda r: r.status_code == 200, "health ok with the broker back")
        await until(hub, "/api/v1/nodes", lambda r: node(r)["online"], "N1 online again")

        pid = mosquitto_fresh._proc.pid  # type: ignore[union-attr]
        os.kill(pid, signal.SIGSTOP)  # frozen: connections stay open, nothing passes
        try:
            await until(hub, "/api/v1/health", lambda r: r.status_code == 503, "health not ok with the broker frozen")
            assert (await get(hub, "/api/v1/health")).json()["broker"]["state"] in ("silent", "unreachable")
            assert not node(await get(hub, "/api/v1/nodes"))["online"]
        finally:
            os.kill(pid, signal.SIGCONT)
        await until(hub, "/api/v1/health", lambda r: r.status_code == 200, "health ok after the freeze", 60)


async def test_node_health_reaches_nodes_api_and_parseable_metrics(
    tmp_path: Path, mosquitto_fresh: MosquittoServer
) -> None:
    async with hub_and_agent(tmp_path, mosquitto_fresh) as hub:

        def reported(r: httpx.Response) -> bool:
            h = node(r)["health"]
            return h is not None and {d["device"] for d in h["devices"] if d["reads_ok"]} == {"c1", "c2"}

        await until(hub, "/api/v1/nodes", reported, "N1's health with both devices read")
        health = node(await get(hub, "/api/v1/nodes"))["health"]
        assert {"queue_depth", "queue_oldest_s", "dropped", "epoch", "last_acked_seq", "unacked_batches",
                "oldest_unacked_s", "received_ms"} <= health.keys()  # fmt: skip
        assert all(d["rtt_ms"] is not None and d["state"] == "ok" for d in health["devices"])
        single = (await get(hub, "/api/v1/nodes/N1")).json()
        assert {d["device"] for d in single["health"]["devices"]} == {"c1", "c2"}
        text = (await get(hub, "/metrics")).text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}  # fmt: skip
    names = {name for name, _ in samples}
    assert {"citysense_messages_total", "citysense_store_write_seconds_bucket", "process_cpu_seconds_total",
            "python_gc_collections_total", "citysense_broker_up"} <= names  # fmt: skip
    assert samples[("citysense_node_buffer_readings", (("node", "N1"),))] >= 0
    assert samples[("citysense_device_reads_total", (("device", "c1"), ("node", "N1"), ("result", "ok")))] >= 1
    assert samples[("citysense_device_rtt_seconds", (("device", "c2"), ("node", "N1")))] > 0
    assert samples[("citysense_node_liveness", (("node", "N1"), ("state", "online")))] == 1


async def test_store_down_at_start_is_set_up_once_it_answers_and_health_follows_it(
    tmp_path: Path, mosquitto_fresh: MosquittoServer, influx_fresh: InfluxServer
) -> None:
    influx_fresh.stop()
    store = InfluxSettings(url=influx_fresh.url, database="health_setup")
    async with hub_on(tmp_path, mosquitto_fresh.url, influx=store, **FAST) as hub:
        body = (await get(hub, "/api/v1/health")).json()
        assert body["store"]["state"] == "setting_up" and body["status"] == "degraded"
        influx_fresh.start()
        await until(hub, "/api/v1/health", lambda r: r.json()["store"]["state"] == "ok", "the store set up")
        async with httpx.AsyncClient(base_url=influx_fresh.url) as influx:
            policies = (await influx.post("/query", data={"q": 'SHOW RETENTION POLICIES ON "health_setup"'})).json()
        names = {row[0] for row in policies["results"][0]["series"][0]["values"]}
        assert {"raw", "m1", "h1"} <= names  # the set-up ran in full, not only a database made by a write
        influx_fresh.stop()
        await until(hub, "/api/v1/health", lambda r: r.json()["store"]["state"] == "unavailable", "store down seen")
        assert (await get(hub, "/api/v1/health")).status_code == 503
