"""``/api/v1/map``: what the web dashboard draws, scoped like the rest of the API."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import T1, T2, V1, Api


async def _map(api: Api, user: str, **params: str) -> dict[str, Any]:
    resp = await api.client.get("/api/v1/map", params=params, headers=api.auth(user))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_admin_sees_every_node_grouped_by_town_with_status(api: Api) -> None:
    body = await _map(api, "admin")
    assert sorted(n["id"] for n in body["nodes"]) == ["P1", "W1", "W2"]
    assert {n["status"] for n in body["nodes"]} == {"offline"}  # nothing has reported yet
    towns = {t["code"]: t["nodes"] for t in body["towns"]}
    assert towns == {T1: 2, T2: 1}  # P1 sits in T1's village, so it counts for T1
    assert {n["id"]: n["town"] for n in body["nodes"]}["P1"] == T1
    assert body["alerts_enabled"] is False


async def test_department_and_region_filters_narrow_the_map(api: Api) -> None:
    assert sorted(n["id"] for n in (await _map(api, "admin", department="water"))["nodes"]) == ["W1", "W2"]
    assert sorted(n["id"] for n in (await _map(api, "admin", region=T1))["nodes"]) == ["P1", "W1"]
    both = await _map(api, "admin", department="urban_management", region=T1)
    assert [n["id"] for n in both["nodes"]] == ["P1"]
    missing = await api.client.get("/api/v1/map", params={"region": "999"}, headers=api.auth("admin"))
    assert missing.status_code == 404


async def test_a_departments_token_never_sees_another_departments_nodes(api: Api) -> None:
    water_t1 = await _map(api, "op_t1_water")
    assert [n["id"] for n in water_t1["nodes"]] == ["W1"]
    assert [d["id"] for d in water_t1["departments"]] == ["water"]  # the filters offer only what is in scope
    assert [(p["code"], p["level"]) for p in water_t1["places"]] == [(T1, "town"), (V1, "village")]
    # Asking for another department or town through the filters does not widen the scope.
    assert (await _map(api, "op_t1_water", department="urban_management"))["nodes"] == []
    assert (await _map(api, "viewer_t2", region=T1))["nodes"] == []
    assert [n["id"] for n in (await _map(api, "viewer_t2"))["nodes"]] == ["W2"]


async def test_node_page_lists_chartable_points_with_warning_lines_and_is_scoped(api: Api) -> None:
    resp = await api.client.get("/api/v1/map/nodes/W1", headers=api.auth("op_t1_water"))
    assert resp.status_code == 200, resp.text
    node = resp.json()
    assert node["id"] == "W1" and node["alarms"] == [] and node["devices"]
    points = [p for d in node["devices"] for p in d["points"]]
    assert points and all(p["kind"] in ("number", "bool", "enum") for p in points)
    for who, nid in (("op_t1_water", "P1"), ("op_t1_water", "W2"), ("viewer_t2", "W1")):
        hidden = await api.client.get(f"/api/v1/map/nodes/{nid}", headers=api.auth(who))
        assert hidden.status_code == 404, (who, nid)


async def test_map_needs_a_token_outside_development(api: Api) -> None:
    assert (await api.client.get("/api/v1/map")).status_code == 401


async def test_the_dashboard_is_served_at_ui_and_the_root_redirects(api: Api) -> None:
    root = await api.client.get("/")
    assert root.status_code in (302, 307) and root.headers["location"] == "/ui/"
    page = await api.client.get("/ui/")
    assert page.status_code == 200 and "CitySense" in page.text and 'src="app.js"' in page.text
    script = await api.client.get("/ui/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
