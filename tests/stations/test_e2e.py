"""End to end on the demo's stack: station -> gateway -> store -> API -> alarm, and the demo's own stations."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from hub.config import HubSettings
from hub.demo.run import ALERTS, demo_stack
from hub.demo.stations import AQ_NODE, DTU_NODE
from simulator.stations.hj212 import Hj212Monitor

WAIT_S = 30.0


async def test_station_to_api_and_alarm_through_the_demo_stack(tmp_path: Path) -> None:
    settings = HubSettings(data_dir=tmp_path / "hub", api_port=0, alerts_file=ALERTS)
    async with demo_stack(settings, per_kind=1, frozen=True) as demo:
        hub = demo.hub
        gateway = hub.services.stations
        assert gateway is not None
        admin = {"Authorization": f"Bearer {hub.admin_token}"}
        async with httpx.AsyncClient(base_url=hub.api_url, timeout=10) as api:
            # Register a station through the API, as an operator would.
            body = {"id": "AQ-TEST", "protocol": "hj212", "address": "TESTMN0001", "password": "abc123",
                    "region": "440981001001", "department": "environment", "latitude": 21.91, "longitude": 110.85,
                    "devices": [{"id": "monitor", "profile": "hj212_air_quality"}]}  # fmt: skip
            r = await api.post("/api/v1/stations", json=body, headers=admin)
            assert r.status_code == 201, r.text
            assert r.json()["has_password"] is True and "abc123" not in r.text
            assert (await api.post("/api/v1/stations", json=body, headers=admin)).status_code == 409
            monitor = Hj212Monitor("TESTMN0001", "abc123", "127.0.0.1", gateway.ports["hj212"],
                                   lambda ts: {"a34004": (200.0, "N"), "a21005": (1.1, "N")})  # fmt: skip
            await monitor.connect()
            now = (int(time.time()) - 1) * 1000
            for ago_s in (120, 60, 0):  # PM2.5 above 115 μg/m³ for two minutes: the profile's alert raises
                assert await monitor.send(monitor.upload("2011", now - ago_s * 1000))
            await monitor.close()
            latest = (await api.get("/api/v1/devices/AQ-TEST.monitor/latest")).json()["readings"]
            assert latest["pm2_5"]["value"] == 200.0 and latest["pm2_5"]["unit"] == "μg/m³"
            rows = (await api.get("/api/v1/devices/AQ-TEST.monitor/readings",
                                  params={"metric": "pm2_5", "start_ms": now - 600_000})).json()  # fmt: skip
            assert [x["value"] for x in rows["readings"]] == [200.0, 200.0, 200.0]
            alarms = (await api.get("/api/v1/alarms", headers=admin)).json()
            assert any(a["device"] == "AQ-TEST.monitor" and a["rule"] == "pm2_5_high" for a in alarms), alarms
            # The demo's own stations report on their own: on the map, in the station list, with readings.
            await hub.services.latest.wait_until(
                lambda latest: bool(latest.get(f"{AQ_NODE}.monitor")) and bool(latest.get(f"{DTU_NODE}.met")),
                WAIT_S,
            )
            stations = {s["node"]["id"]: s for s in (await api.get("/api/v1/stations", headers=admin)).json()}
            assert stations[AQ_NODE]["connected"] and stations[DTU_NODE]["connected"]
            node = (await api.get(f"/api/v1/nodes/{DTU_NODE}", headers=admin)).json()
            assert node["kind"] == "dtu_station" and node["online"]
            metrics = (await api.get("/metrics")).text
            assert 'citysense_station_frames_total{protocol="hj212"}' in metrics
