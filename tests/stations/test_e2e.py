"""End to end on the demo's stack: station -> gateway -> store -> API -> alarm, and the demo's own stations."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from hub.config import HubSettings
from hub.demo.run import ALERTS, demo_stack
from hub.demo.stations import AQ_NODE, DTU_NODE, RG_NODE
from hub.stations.sl651 import encode as sl651
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
            await _sl651_heavy_rain(api, admin, gateway.ports["sl651"], now)
            # The demo's own stations report on their own: on the map, in the station list, with readings.
            await hub.services.latest.wait_until(
                lambda latest: all(latest.get(d) for d in (f"{AQ_NODE}.monitor", f"{DTU_NODE}.met", f"{RG_NODE}.rtu")),
                WAIT_S,
            )
            stations = {s["node"]["id"]: s for s in (await api.get("/api/v1/stations", headers=admin)).json()}
            assert stations[AQ_NODE]["connected"] and stations[DTU_NODE]["connected"] and stations[RG_NODE]["connected"]
            # Downlink through the node command API: the RTU answers a clock query (SL 651 51H).
            clock = await api.post(f"/api/v1/nodes/{RG_NODE}/commands", json={"action": "clock_query"}, headers=admin)
            assert clock.status_code == 200, clock.text
            assert clock.json()["ok"] and clock.json()["result"]["function"] == "51"
            unknown = await api.post(f"/api/v1/nodes/{RG_NODE}/commands", json={"action": "probe"}, headers=admin)
            assert unknown.status_code == 400 and "clock_query" in unknown.text  # it names the RTU's commands
            node = (await api.get(f"/api/v1/nodes/{DTU_NODE}", headers=admin)).json()
            assert node["kind"] == "dtu_station" and node["online"]
            metrics = (await api.get("/metrics")).text
            assert 'citysense_station_frames_total{protocol="hj212"}' in metrics


async def _sl651_heavy_rain(api: httpx.AsyncClient, admin: dict[str, str], port: int, now_ms: int) -> None:
    """An SL 651 rain gauge reports 25 mm in 40 minutes: stored, shown, and over the CMA 1-hour threshold (20 mm)."""
    body = {"id": "RG-TEST", "protocol": "sl651", "address": "0010009901", "password": "4321",
            "region": "440981104", "department": "water", "latitude": 21.97, "longitude": 110.93,
            "devices": [{"id": "rtu", "profile": "sl651_rain_gauge"}]}  # fmt: skip
    r = await api.post("/api/v1/stations", json=body, headers=admin)
    assert r.status_code == 201, r.text
    station = sl651.Station("0010009901", "4321", 1, "rainfall", "hex")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for serial, (ago_min, total) in enumerate([(40, 0.0), (20, 10.0), (0, 25.0)], start=1):
            obs = (now_ms - ago_min * 60_000) // 60_000 * 60_000
            items = [("PJ", total), ("PT", total), ("VT", 12.3)]
            writer.write(sl651.report(station, 0x32, serial=serial, sent_ms=obs, obs_ms=obs, items=items))
            await writer.drain()
            async with asyncio.timeout(10):  # the central station confirms each report once it is stored
                assert (await reader.read(64)).startswith(b"\x7e\x7e")
    finally:
        writer.close()
    latest = (await api.get("/api/v1/devices/RG-TEST.rtu/latest")).json()["readings"]
    assert latest["rain_total"]["value"] == 25.0 and latest["rain_total"]["unit"] == "mm"
    async with asyncio.timeout(WAIT_S):
        while True:
            alarms = (await api.get("/api/v1/alarms", headers=admin)).json()
            if any(a["device"] == "RG-TEST.rtu" and a["rule"] == "rain_1h" for a in alarms):
                return
            await asyncio.sleep(0.5)
