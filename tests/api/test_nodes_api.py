"""Node listing filters, cursor pagination, drift, placeholders and claims through the API (no broker)."""

from __future__ import annotations

from hub.registry.provision import Provisioning
from tests.api.conftest import EP, T1, Api


async def _ids(api: Api, query: str, user: str = "admin") -> list[str]:
    r = await api.client.get(f"/api/v1/nodes{query}", headers=api.auth(user))
    assert r.status_code == 200, r.text
    return [n["id"] for n in r.json()]


async def test_filters(api: Api) -> None:
    assert await _ids(api, "") == ["P1", "W1", "W2"]
    assert await _ids(api, f"?region={T1}") == ["P1", "W1"]  # the whole subtree, village included
    assert await _ids(api, "?department=water") == ["W1", "W2"]
    assert await _ids(api, "?kind=smart_pole") == ["P1"]
    assert await _ids(api, "?profile=radar_level_rs485") == ["W1", "W2"]
    assert await _ids(api, "?status=placeholder") == []
    r = await api.client.get("/api/v1/nodes?region=999", headers=api.auth("admin"))
    assert r.status_code == 404


async def test_cursor_pagination_walks_every_node_once(api: Api) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        q = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        r = await api.client.get(f"/api/v1/nodes{q}", headers=api.auth("admin"))
        seen += [n["id"] for n in r.json()]
        cursor = r.headers.get("X-Next-Cursor")
        if cursor is None:
            break
    assert seen == ["P1", "W1", "W2"]


async def test_drift_lists_nodes_behind_their_desired_config(api: Api) -> None:
    assert await _ids(api, "?config_drift=true") == []
    Provisioning(api.registry, api.services.kinds).bump_config("admin", "W2")
    assert await _ids(api, "?config_drift=true") == ["W2"]


async def test_claim_needs_addresses_and_keeps_the_code_on_refusal(api: Api) -> None:
    body = {"id": "NEW1", "kind": "water_gauge", "region": T1}
    created = await api.client.post("/api/v1/nodes", json=body, headers=api.auth("op_t1_water"))
    assert created.status_code == 201
    assert created.json()["node"]["status"] == "placeholder"
    code = created.json()["claim_code"]
    claim = {"claim_code": code, "latitude": 21.9, "longitude": 110.8, "site": "WG-77"}
    r = await api.client.post("/api/v1/provisioning/claim", json=claim, headers=api.auth("tech_t1"))
    assert r.status_code == 400 and "rs485" in r.text
    r = await api.client.post(
        "/api/v1/provisioning/claim", json={**claim, "endpoints": EP}, headers=api.auth("tech_t1")
    )
    assert r.status_code == 200
    out = r.json()
    assert out["node"]["status"] == "claimed" and out["node"]["site"] == "WG-77"
    assert out["agent_config"]["hub"]["username"] == "NEW1"
    assert out["agent_config"]["hub"]["password"] == out["credentials"]["password"]
    assert [d["id"] for d in out["agent_config"]["devices"]] == ["level", "rain"]


async def test_invalid_inputs_are_refused_with_4xx(api: Api) -> None:
    h = api.auth("admin")
    assert (await api.client.post("/api/v1/nodes", json={"id": "bad id!", "kind": "x"}, headers=h)).status_code == 422
    r = await api.client.post("/api/v1/nodes", json={"id": "N9", "kind": "nope", "region": T1}, headers=h)
    assert r.status_code == 400
    r = await api.client.post("/api/v1/nodes", json={"id": "W1", "kind": "water_gauge", "region": T1}, headers=h)
    assert r.status_code == 409


async def test_csv_import_reports_each_row_and_keeps_the_good_ones(api: Api) -> None:
    csv_text = (
        "id,kind,region,department,name,host,port\n"
        "GZ-WG-0500,water_gauge,440981103,,Gauge 500,10.0.0.5,502\n"
        "GZ-WG-0501,water_gauge,440981104,,Out of scope,,\n"
        "bad id,water_gauge,440981103,,,,\n"
        "GZ-WG-0502,no_such_kind,440981103,,,,\n"
        "GZ-WG-0503,water_gauge,440981103,,,10.0.0.6,99999\n"
        "W1,water_gauge,440981103,,,,\n"
    )
    r = await api.client.post(
        "/api/v1/nodes/import", content=csv_text, headers={**api.auth("op_t1_water"), "Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["failed"]) == (1, 5)
    assert [(row["line"], row["ok"]) for row in report["rows"]] == [(i, i == 2) for i in range(2, 8)]
    assert report["rows"][0]["claim_code"]
    assert "outside your scope" in report["rows"][1]["error"]
    assert "no_such_kind" in report["rows"][3]["error"]
    assert "exists" in report["rows"][5]["error"]
    assert await _ids(api, "?status=placeholder") == ["GZ-WG-0500"]


async def test_device_csv_import(api: Api) -> None:
    csv_text = "node,device,unit_id\nW1,level,7\nW1,nope,3\nW1,rain,300\n"
    r = await api.client.post(
        "/api/v1/devices/import", content=csv_text, headers={**api.auth("admin"), "Content-Type": "text/csv"}
    )
    assert [row["ok"] for row in r.json()["rows"]] == [True, False, False]
    dev = (await api.client.get("/api/v1/devices/W1.level", headers=api.auth("admin"))).json()
    assert dev["unit_id"] == 7
    r = await api.client.post("/api/v1/devices/import", content="a,b\n1,2\n", headers=api.auth("admin"))
    assert r.status_code == 400 and "node" in r.text


async def test_provisioning_key_registers_a_node_in_one_step(api: Api) -> None:
    r = await api.client.post("/api/v1/node-kinds/water_gauge/provisioning-key", headers=api.auth("tech_t1"))
    assert r.status_code == 403
    r = await api.client.post("/api/v1/node-kinds/water_gauge/provisioning-key", headers=api.auth("admin"))
    assert r.status_code == 201
    key = r.json()["provisioning_key"]
    kinds = (await api.client.get("/api/v1/node-kinds", headers=api.auth("tech_t1"))).json()
    assert {k["kind"]: k["has_provisioning_key"] for k in kinds}["water_gauge"] is True
    profiles = {p["id"] for p in (await api.client.get("/api/v1/profiles", headers=api.auth("tech_t1"))).json()}
    assert "radar_level_rs485" in profiles
    body = {"provisioning_key": key, "node_id": "GZ-WG-0700", "region": T1, "latitude": 21.9, "longitude": 110.8,
            "site": "WG-0700", "endpoints": EP}  # fmt: skip
    url = "/api/v1/provisioning/register"
    assert (
        await api.client.post(url, json={**body, "region": "440981104"}, headers=api.auth("tech_t1"))
    ).status_code == 404
    r = await api.client.post(url, json=body, headers=api.auth("tech_t1"))
    assert r.status_code == 200, r.text
    assert r.json()["node"]["status"] == "claimed" and r.json()["agent_config"]["node_id"] == "GZ-WG-0700"
    assert (await api.client.post(url, json=body, headers=api.auth("tech_t1"))).status_code == 409  # exists
    await api.client.delete("/api/v1/node-kinds/water_gauge/provisioning-key", headers=api.auth("admin"))
    r = await api.client.post(url, json={**body, "node_id": "GZ-WG-0701"}, headers=api.auth("tech_t1"))
    assert r.status_code == 404 and "revoked" in r.text


async def test_malformed_csv_is_a_clear_400(api: Api) -> None:
    """Found by schemathesis: a lone carriage return used to crash the import with a 500."""
    h = {**api.auth("admin"), "Content-Type": "text/csv"}
    r = await api.client.post("/api/v1/nodes/import", content="\r0", headers=h)
    assert r.status_code == 400 and "lacks column" in r.text
    r = await api.client.post("/api/v1/nodes/import", content='id,kind,region\n"GZ-1\r0', headers=h)
    assert r.status_code == 200 and r.json()["failed"] == 1  # reported per row, not a crash
    huge = "id,kind,region\n" + "x" * 200_000 + ",a,b\n"  # beyond the csv module's field limit
    r = await api.client.post("/api/v1/nodes/import", content=huge, headers=h)
    assert r.status_code == 400 and "CSV line" in r.text
    r = await api.client.post("/api/v1/nodes/import", content=b"\xff\xfe", headers=h)
    assert r.status_code == 400 and "UTF-8" in r.text
