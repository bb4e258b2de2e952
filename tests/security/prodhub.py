"""A real hub in production mode behind a real Mosquitto with dynamic security, for the issue-12 attack tests."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hub.config import BrokerAdminSettings, HubSettings
from hub.demo.run import REGIONS
from hub.runtime import RunningHub, running_hub
from tests.harness.mosquitto import DYNSEC_ADMIN, MosquittoServer

TOWN = "440981103"
HUB_PASSWORD = "hub-secret-" + "x" * 24


def production_settings(root: Path, broker: MosquittoServer, **overrides: Any) -> HubSettings:
    """Settings a production hub accepts: strong bootstrap token, Mosquitto with dynsec, no open reads."""
    values: dict[str, Any] = {
        "environment": "production",
        "dev_open_read": False,
        "bootstrap_admin_token": f"cs_boot_{secrets.token_urlsafe(32)}",
        "data_dir": root / "hub",
        "mqtt_url": broker.url,
        "mqtt_password": HUB_PASSWORD,
        "broker_admin": BrokerAdminSettings(username=DYNSEC_ADMIN[0], password=DYNSEC_ADMIN[1]),
        "fleet_file": REGIONS,
        "api_port": 0,
    }
    return HubSettings.model_validate({**values, **overrides})


@dataclass
class ProdHub:
    """The running hub, an HTTP client on its API and the administrator's headers."""

    hub: RunningHub
    api: httpx.AsyncClient
    admin: dict[str, str]

    async def user(self, user_id: str, role: str, password: str) -> dict[str, str]:
        """Create a user scoped to the town and log in; return its headers."""
        body = {"role": role, "region_scope": TOWN, "password": password}
        r = await self.api.put(f"/api/v1/users/{user_id}", json=body, headers=self.admin)
        assert r.status_code == 200, r.text
        login = await self.api.post("/api/v1/auth/login", json={"username": user_id, "password": password})
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['token']}"}

    async def placeholder(self, node_id: str) -> httpx.Response:
        """Ask for a water-gauge placeholder named ``node_id`` in the town."""
        body = {"id": node_id, "kind": "water_gauge", "region": TOWN}
        return await self.api.post("/api/v1/nodes", json=body, headers=self.admin)


@contextlib.asynccontextmanager
async def prod_hub(settings: HubSettings) -> AsyncIterator[ProdHub]:
    """Start the hub with ``settings``; yield it with a client on its API."""
    async with running_hub(settings) as hub, httpx.AsyncClient(base_url=hub.api_url, timeout=30) as api:
        yield ProdHub(hub, api, {"Authorization": f"Bearer {hub.admin_token}"})


def claim_body(code: str, port: int = 1502) -> dict[str, Any]:
    """A technician's claim of a water gauge whose RS-485 bus is behind 127.0.0.1:``port``."""
    return {
        "claim_code": code,
        "latitude": 21.93,
        "longitude": 110.85,
        "site": "WG-site",
        "endpoints": {"rs485": {"host": "127.0.0.1", "port": port}},
    }
