"""``/api/v1/stations`` under the same roles and scopes as nodes."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import T1, T2, Api, api, api_template  # noqa: F401  (the API fixture with a user of every role)


def _dtu(node: str, region: str, address: str, profile: str = "weather_6in1_rs485") -> dict[str, Any]:
    return {"id": node, "protocol": "dtu", "address": address, "region": region, "department": "water",
            "devices": [{"id": "met", "profile": profile, "unit_id": 1, "poll_interval_s": 60}]}  # fmt: skip


async def test_operators_register_stations_in_scope_and_others_may_not(api: Api) -> None:  # noqa: F811
    c = api.client
    r = await c.post("/api/v1/stations", json=_dtu("S1", T1, "866000000000001"), headers=api.auth("op_t1_water"))
    assert r.status_code == 201, r.text
    assert r.json()["node"]["kind"] == "dtu_station" and r.json()["connected"] is False
    outside = await c.post("/api/v1/stations", json=_dtu("S2", T2, "866000000000002"), headers=api.auth("op_t1_water"))
    assert outside.status_code == 404
    for user in ("viewer_t2", "tech_t1"):
        body = _dtu(f"S-{user}", T2, "866000000000003")
        assert (await c.post("/api/v1/stations", json=body, headers=api.auth(user))).status_code == 403
    taken = await c.post("/api/v1/stations", json=_dtu("S3", T1, "866000000000001"), headers=api.auth("admin"))
    assert taken.status_code == 409
    bad = await c.post("/api/v1/stations", json=_dtu("S4", T1, "8660004", profile="nope"), headers=api.auth("admin"))
    assert bad.status_code == 400


async def test_stations_are_listed_and_shown_only_in_scope(api: Api) -> None:  # noqa: F811
    c = api.client
    created = await c.post("/api/v1/stations", json=_dtu("S1", T1, "866000000000001"), headers=api.auth("admin"))
    assert created.status_code == 201
    seen = {s["node"]["id"] for s in (await c.get("/api/v1/stations", headers=api.auth("admin"))).json()}
    assert seen == {"S1"}
    assert (await c.get("/api/v1/stations", headers=api.auth("viewer_t2"))).json() == []
    assert (await c.get("/api/v1/stations/S1", headers=api.auth("viewer_t2"))).status_code == 404
    assert (await c.get("/api/v1/stations/S1", headers=api.auth("tech_t1"))).status_code == 200
    # Without a running gateway a command cannot be sent, and says so.
    cmd = await c.post("/api/v1/stations/S1/commands", json={"action": "clock_set"}, headers=api.auth("admin"))
    assert cmd.status_code == 409
