"""The API findings of the security audit, replayed over HTTP against a real hub in production mode.

One hub (Mosquitto with dynamic security, SQLite on disk, alerts on) and the
audit's accounts: a town administrator, a town operator, the city admin.
Each attack is made the way the audit made it and must be refused.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.alerts.acklink import make_link
from hub.runtime import running_hub
from tests.api.conftest import T1, T2
from tests.api.prodhub import production_settings
from tests.harness.mosquitto import MosquittoServer

USERS = {
    "town.admin": {"role": "administrator", "region_scope": T1, "password": "town-admin-pw-1"},
    "town.operator": {"role": "operator", "region_scope": T1, "departments": ["water"], "password": "town-op-pw-01"},
}


@dataclass
class Hub:
    client: httpx.AsyncClient
    admin: dict[str, str]
    users: dict[str, dict[str, str]]
    ack_secret: str
    host: str
    port: int


@pytest.fixture
async def hub(tmp_path: Path, broker: MosquittoServer) -> AsyncIterator[Hub]:
    ack_secret = secrets.token_urlsafe(32)
    settings = production_settings(tmp_path, broker, ack_secret)
    async with running_hub(settings) as running, httpx.AsyncClient(base_url=running.api_url, timeout=20) as c:
        admin = {"Authorization": f"Bearer {running.admin_token}"}
        users = {}
        for name, body in USERS.items():
            assert (await c.put(f"/api/v1/users/{name}", json=body, headers=admin)).status_code == 200
            login = await c.post("/api/v1/auth/login", json={"username": name, "password": body["password"]})
            users[name] = {"Authorization": f"Bearer {login.json()['token']}"}
        host, port = running.api_url.removeprefix("http://").split(":")
        yield Hub(c, admin, users, ack_secret, host, int(port))


async def test_audited_attacks_are_refused(hub: Hub) -> None:
    c, town_admin, town_op = hub.client, hub.users["town.admin"], hub.users["town.operator"]

    # Finding 4: a town admin issues a token for the city admin, revokes its tokens, lists everyone.
    assert (await c.post("/api/v1/tokens", json={"user_id": "admin"}, headers=town_admin)).status_code == 404
    city_tokens = [
        t["id"] for t in (await c.get("/api/v1/tokens", headers=hub.admin)).json() if t["user_id"] == "admin"
    ]
    assert city_tokens
    for tid in city_tokens:
        assert (await c.delete(f"/api/v1/tokens/{tid}", headers=town_admin)).status_code == 404
    assert (await c.get("/api/v1/nodes", headers=hub.admin)).status_code == 200  # the city admin still gets in
    assert {u["id"] for u in (await c.get("/api/v1/users", headers=town_admin)).json()} == set(USERS)
    assert {t["user_id"] for t in (await c.get("/api/v1/tokens", headers=town_admin)).json()} <= set(USERS)
    grant = {"role": "administrator", "region_scope": None}
    assert (await c.put("/api/v1/users/town.operator", json=grant, headers=town_admin)).status_code == 403

    # Medium: a town operator silences another town or the whole city, deletes the admin's silence.
    for match in ({"regions": [T2], "departments": ["water"]}, {}):
        r = await c.post("/api/v1/silences", json={"match": match, "ends_ms": 2**42}, headers=town_op)
        assert r.status_code == 403
    admins = (await c.post("/api/v1/silences", json={"match": {}, "ends_ms": 2**42}, headers=hub.admin)).json()
    assert (await c.delete(f"/api/v1/silences/{admins['id']}", headers=town_op)).status_code == 404
    assert all(s.get("id") != admins["id"] for s in (await c.get("/api/v1/silences", headers=town_op)).json())

    # Finding 6: the acknowledge page echoes `by`; a non-ASCII signature.
    by = "<script>alert(document.cookie)</script>"
    page = await c.get(make_link("", hub.ack_secret, 1, by, 2**40))
    assert page.status_code == 404 and "<script" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    odd = await c.get("/api/v1/alarms/1/ack-link", params={"exp": 1, "by": "x", "sig": "ü" * 10})
    assert odd.status_code == 403

    # Medium: integers beyond int64.
    for path in ("/api/v1/alarms/9223372036854775808", "/api/v1/alarms?limit=18446744073709551616"):
        assert (await c.get(path, headers=hub.admin)).status_code == 422


async def test_a_200_mb_login_body_is_refused_before_it_is_read(hub: Hub) -> None:
    reader, writer = await asyncio.open_connection(hub.host, hub.port)
    head = (
        f"POST /api/v1/auth/login HTTP/1.1\r\nHost: {hub.host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {200_000_000}\r\n\r\n"
    )
    writer.write(head.encode() + b'{"username": "admin", "password": "' + b"x" * 65536)
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status.split()[1] == b"413"
    assert (await hub.client.get("/api/v1/health")).status_code == 200


async def test_thirty_wrong_passwords_then_the_right_one_is_refused(hub: Hub) -> None:
    c = hub.client
    for i in range(30):
        r = await c.post("/api/v1/auth/login", json={"username": "town.operator", "password": f"guess-{i:02d}"})
        assert r.status_code in (401, 429)
    right = await c.post("/api/v1/auth/login", json={"username": "town.operator", "password": "town-op-pw-01"})
    assert right.status_code == 429 and "Retry-After" in right.headers
