"""The issue's three commands on the demo stack (embedded broker, development token), as the README shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from hub.config import DEV_ADMIN_TOKEN, HubSettings
from hub.demo.run import Demo, demo_stack

ADMIN = {"Authorization": f"Bearer {DEV_ADMIN_TOKEN}"}


def _node(demo: Demo, kind: str) -> str:
    return next(n for n, sim in demo.simulators.items() if sim.kind.kind == kind)


async def _write(api: httpx.AsyncClient, node: str, device: str, metric: str, value: Any) -> httpx.Response:
    body = {"action": "write", "device": device, "metric": metric, "value": value}
    return await api.post(f"/api/v1/nodes/{node}/commands", json=body, headers=ADMIN)


async def test_dim_flash_and_reset_on_the_demo(tmp_path: Path) -> None:
    async with demo_stack(HubSettings(data_dir=tmp_path, api_port=0), per_kind=1, frozen=True) as demo:
        pole, signal, gauge = (_node(demo, k) for k in ("smart_pole", "signal_cabinet", "water_gauge"))
        ready = [f"{pole}.lamp", f"{signal}.ctrl", f"{gauge}.rain"]
        await demo.hub.services.latest.wait_until(lambda c: all(c.get(d) for d in ready), 30)
        async with httpx.AsyncClient(base_url=demo.hub.api_url, timeout=30) as api:
            assert (await api.get("/api/v1/nodes")).status_code == 200  # reads open in development
            body = {"action": "write", "device": "lamp", "metric": "dim_level", "value": 40}
            assert (await api.post(f"/api/v1/nodes/{pole}/commands", json=body)).status_code == 401
            for node, device, metric, value, register in (
                (pole, "lamp", "dim_level", 40, 40),  # dim a street light to 40 %
                (signal, "ctrl", "mode", "flashing_yellow", 2),  # emergency: flashing yellow (state 2)
                (gauge, "rain", "tip_count", 0, 0),  # reset the rain counter
            ):
                r = await _write(api, node, device, metric, value)
                assert r.status_code == 200 and r.json()["ok"], r.text
                assert demo.simulators[node].snapshot()[device][metric] == register
            r = await _write(api, signal, "ctrl", "mode", "purple")
            assert r.status_code == 400 and "flashing_yellow" in r.text
            r = await _write(api, gauge, "rain", "rain_total", 3.0)
            assert r.status_code == 400 and "not writable" in r.text
