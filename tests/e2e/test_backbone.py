"""One reading from every node kind: simulator -> agent -> broker -> hub -> store -> API.

Run twice: on the real components (Mosquitto and InfluxDB started by the test
harness) and on the embedded defaults the demo uses (amqtt, SQLite).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from hub.config import HubSettings, InfluxSettings
from hub.demo.run import Demo, demo_stack
from hub.latest import LatestCache
from hub.stations.protocols import PROTOCOLS
from tests.harness.influx import InfluxServer
from tests.harness.mosquitto import MosquittoServer

WAIT_S = 30.0  # the README promises readings within 30 s of start


def _expected(demo: Demo) -> dict[str, dict[str, Any]]:
    """Device uid -> metric -> the engineering value the simulator serves (frozen)."""
    out: dict[str, dict[str, Any]] = {}
    for node_id, sim in demo.simulators.items():
        for device, metrics in sim.snapshot().items():
            out[f"{node_id}.{device}"] = metrics
    return out


def _as_stored(value: Any) -> Any:
    """Numbers and bools are stored as floats; strings as they are."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return value


def _complete(expected: dict[str, dict[str, Any]]) -> Any:
    def check(latest: LatestCache) -> bool:
        return all(set(metrics) <= set(latest.get(uid)) for uid, metrics in expected.items())

    return check


async def _run(settings: HubSettings) -> None:
    async with demo_stack(settings, per_kind=1, frozen=True) as demo:
        kinds = {sim.kind.kind for sim in demo.simulators.values()}
        assert kinds == {"smart_pole", "water_gauge", "weather_station", "signal_cabinet"}
        expected = _expected(demo)
        await demo.hub.services.latest.wait_until(_complete(expected), WAIT_S)
        async with httpx.AsyncClient(base_url=demo.hub.api_url, timeout=10) as api:
            every = (await api.get("/api/v1/nodes")).json()
            stations = {f"{name}_station" for name in PROTOCOLS}  # the dial-in stations, tested in tests/stations
            nodes = [n for n in every if n["kind"] not in stations]
            assert {n["kind"] for n in nodes} == kinds
            assert all(n["online"] for n in nodes)
            for uid, metrics in expected.items():
                latest = (await api.get(f"/api/v1/devices/{uid}/latest")).json()["readings"]
                history = (await api.get(f"/api/v1/devices/{uid}/readings")).json()["readings"]
                assert history, f"{uid}: no history in the store"
                stored = {r["metric"]: r for r in history}  # newest per metric: rows are in time order
                for metric, value in metrics.items():
                    want = _as_stored(value)
                    assert latest[metric]["quality"] == "good", (uid, metric, latest[metric])
                    assert latest[metric]["value"] == want, (uid, metric)
                    assert stored[metric]["value"] == want, (uid, metric, "store")
                    assert stored[metric]["quality"] == "good"


async def test_real_components(tmp_path: Path, mosquitto: MosquittoServer, influx: InfluxServer) -> None:
    run_id = uuid.uuid4().hex[:8]
    await _run(
        HubSettings(
            data_dir=tmp_path,
            api_port=0,
            mqtt_url=mosquitto.url,
            mqtt_client_id=f"hub-{run_id}",
            topic_prefix=f"citysense-{run_id}/v1",
            influx=InfluxSettings(url=influx.url, database=f"e2e_{run_id}"),
        )
    )


async def test_embedded_defaults(tmp_path: Path) -> None:
    await _run(HubSettings(data_dir=tmp_path, api_port=0))
