"""Tokens, users, open reads in development, and the audit log, through the HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub import production
from hub.config import HubSettings
from tests.api.conftest import Api


async def test_reads_need_a_token_unless_development_opens_them(api: Api) -> None:
    assert (await api.client.get("/api/v1/nodes")).status_code == 401
    assert (await api.client.get("/api/v1/nodes", headers={"Authorization": "Bearer cs_nope_nope"})).status_code == 401
    api.services.open_read = True
    assert (await api.client.get("/api/v1/nodes")).status_code == 200
    # Writes never open up.
    assert (await api.client.post("/api/v1/tokens", json={})).status_code == 401


async def test_login_issue_list_and_revoke_tokens(api: Api) -> None:
    bad = await api.client.post("/api/v1/auth/login", json={"username": "tech_t1", "password": "wrong"})
    assert bad.status_code == 401
    r = await api.client.post("/api/v1/auth/login", json={"username": "tech_t1", "password": "tech_t1-pw"})
    assert r.status_code == 200
    token = r.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/api/v1/nodes", headers=headers)).status_code == 200
    mine = (await api.client.get("/api/v1/tokens", headers=headers)).json()
    assert {t["user_id"] for t in mine} == {"tech_t1"}
    assert all("token" not in t and "secret_hash" not in t for t in mine)
    # Someone else's token is invisible to a technician; the owner revokes it.
    other = next(t["id"] for t in (await api.client.get("/api/v1/tokens", headers=api.auth("admin"))).json()
                 if t["user_id"] == "viewer_t2")  # fmt: skip
    assert (await api.client.delete(f"/api/v1/tokens/{other}", headers=headers)).status_code == 404
    tid = r.json()["id"]
    assert (await api.client.delete(f"/api/v1/tokens/{tid}", headers=headers)).status_code == 204
    assert (await api.client.get("/api/v1/nodes", headers=headers)).status_code == 401


async def test_tokens_are_stored_hashed(api: Api) -> None:
    with api.registry.engine.connect() as conn:
        dump = "\n".join(conn.connection.iterdump())  # type: ignore[attr-defined]
    for token in api.tokens.values():
        assert token.split("_", 2)[2] not in dump


async def test_user_changes_are_audited_with_before_and_after(api: Api) -> None:
    body = {"role": "viewer", "region_scope": "440981104", "departments": ["water"]}
    r = await api.client.put("/api/v1/users/viewer_t2", json=body, headers=api.auth("admin"))
    assert r.status_code == 200
    entries = (await api.client.get("/api/v1/audit?target_id=viewer_t2", headers=api.auth("admin"))).json()
    last = entries[-1]
    assert (last["actor"], last["action"]) == ("admin", "user.upsert")
    assert last["before"]["departments"] == [] and last["after"]["departments"] == ["water"]
    # Only a city-wide administrator manages users.
    r = await api.client.put("/api/v1/users/x", json=body, headers=api.auth("admin_t1"))
    assert r.status_code == 403


def test_settings_refuse_default_secrets_outside_development(tmp_path: Path) -> None:
    """The full list of production refusals is tested in tests/hub/test_production.py."""

    def keys(**kw: Any) -> list[str]:
        settings = HubSettings(environment="production", data_dir=tmp_path, mqtt_url="mqtt://b", **kw)
        return [k for err in production.problems(settings) for k, _ in getattr(err, "problems", [])]

    assert "bootstrap_admin_token" in keys(dev_open_read=False, mqtt_password="p")
    strong = "cs_prod_" + "s" * 43
    assert "dev_open_read" in keys(bootstrap_admin_token=strong, mqtt_password="p")
    assert keys(dev_open_read=False, bootstrap_admin_token=strong, mqtt_password="p") == []


async def test_a_token_says_whom_it_acts_as(api: Api) -> None:
    """What the dashboard shows before it uses a login link."""
    me = (await api.client.get("/api/v1/auth/me", headers=api.auth("viewer_t2"))).json()
    assert (me["id"], me["role"], me["region_scope"], me["departments"]) == ("viewer_t2", "viewer", "440981104", [])
    assert (await api.client.get("/api/v1/auth/me")).status_code == 401


async def test_logins_are_audited_with_their_outcome(api: Api) -> None:
    await api.client.post("/api/v1/auth/login", json={"username": "tech_t1", "password": "wrong"})
    await api.client.post("/api/v1/auth/login", json={"username": "tech_t1", "password": "tech_t1-pw"})
    entries = (await api.client.get("/api/v1/audit?target_id=tech_t1", headers=api.auth("admin"))).json()
    logins = [(e["action"], e["after"]["address"]) for e in entries if e["action"].startswith("auth.")]
    assert logins == [("auth.login_failed", "127.0.0.1"), ("auth.login", "127.0.0.1")]
