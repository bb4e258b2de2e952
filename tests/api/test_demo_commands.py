"""The README's write example works on the demo stack (embedded broker, development token)."""

from __future__ import annotations

from pathlib import Path

import httpx

from hub.config import DEV_ADMIN_TOKEN, HubSettings
from hub.demo.run import demo_stack


async def test_readme_dim_command_on_the_demo(tmp_path: Path) -> None:
    async with demo_stack(HubSettings(data_dir=tmp_path, api_port=0), per_kind=1, frozen=True) as demo:
        pole = next(n for n, sim in demo.simulators.items() if sim.kind.kind == "smart_pole")
        await demo.hub.services.latest.wait_until(lambda c: bool(c.get(f"{pole}.lamp")), 30)
        body = {"action": "write", "device": "lamp", "metric": "dim_level", "value": 40}
        async with httpx.AsyncClient(base_url=demo.hub.api_url, timeout=30) as api:
            assert (await api.get("/api/v1/nodes")).status_code == 200  # reads open in development
            assert (await api.post(f"/api/v1/nodes/{pole}/commands", json=body)).status_code == 401
            headers = {"Authorization": f"Bearer {DEV_ADMIN_TOKEN}"}
            r = await api.post(f"/api/v1/nodes/{pole}/commands", json=body, headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["ok"], r.json()
        assert demo.simulators[pole].snapshot()["lamp"]["dim_level"] == 40
