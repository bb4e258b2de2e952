"""Every role x every endpoint x a resource inside and outside the caller's scope.

Outside the scope the answer is 404 (the resource is not revealed); a role
that may never do the operation gets 403 whatever the scope.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import EP, T1, T2, Api

# user -> (a node in scope, a node out of scope)
SCOPE = {
    "admin": ("W1", "W2"),  # city-wide: both are in scope
    "admin_t1": ("W1", "W2"),
    "op_t1_water": ("W1", "P1"),  # P1 is in T1 but belongs to urban management
    "tech_t1": ("W1", "W2"),
    "viewer_t2": ("W2", "W1"),
}
REGION_OF = {"W1": T1, "W2": T2, "P1": "440981103201"}
DEPT_OF = {"W1": "water", "W2": "water", "P1": "urban_management"}
WRITERS = {"administrator", "operator"}
INSTALLERS = {"administrator", "operator", "technician"}
ROLE = {"admin": "administrator", "admin_t1": "administrator", "op_t1_water": "operator",
        "tech_t1": "technician", "viewer_t2": "viewer"}  # fmt: skip


def _scoped(user: str, allowed: set[str], inside: bool) -> int:
    if ROLE[user] not in allowed:
        return 403
    return 200 if inside or user == "admin" else 404


async def _create_placeholder(api: Api, node: str) -> str:
    kind = "smart_pole" if node == "P1" else "water_gauge"
    body = {"id": f"NEW-{node}", "kind": kind, "region": REGION_OF[node], "department": DEPT_OF[node]}
    r = await api.client.post("/api/v1/nodes", json=body, headers=api.auth("admin"))
    assert r.status_code == 201, r.text
    code: str = r.json()["claim_code"]
    return code


def _dim(node: str) -> dict[str, Any]:
    if node == "P1":
        return {"action": "write", "device": "lamp", "metric": "dim_level", "value": 40}
    return {"action": "write", "device": "rain", "metric": "tip_count", "value": 0}


async def _call(api: Api, user: str, op: str, node: str) -> int:
    h = api.auth(user)
    c = api.client
    dev = "/api/v1/devices/P1.lamp" if node == "P1" else f"/api/v1/devices/{node}.level"
    requests: dict[str, Any] = {
        "getNode": lambda: c.get(f"/api/v1/nodes/{node}", headers=h),
        "getDevice": lambda: c.get(dev, headers=h),
        "getDeviceLatest": lambda: c.get(f"{dev}/latest", headers=h),
        "getDeviceReadings": lambda: c.get(f"{dev}/readings", headers=h),
        "updateNode": lambda: c.patch(f"/api/v1/nodes/{node}", json={"name": "renamed"}, headers=h),
        "rotateNodeCredentials": lambda: c.post(f"/api/v1/nodes/{node}/credentials", headers=h),
        # No broker in this fixture: an admitted command or push ends in 503 after the checks, which is the point.
        "sendCommand:write": lambda: c.post(f"/api/v1/nodes/{node}/commands", json=_dim(node), headers=h),
        "sendCommand:probe": lambda: c.post(f"/api/v1/nodes/{node}/commands", json={"action": "probe"}, headers=h),
        "pushNodeConfig": lambda: c.post(f"/api/v1/nodes/{node}/config", headers=h),
    }  # fmt: skip
    if op == "createNode":
        body = {"id": f"X-{user}-{node}", "kind": "water_gauge", "region": REGION_OF[node], "department": DEPT_OF[node]}
        if node == "P1":
            body["kind"] = "smart_pole"
        return (await c.post("/api/v1/nodes", json=body, headers=h)).status_code
    if op == "claimNode":
        code = await _create_placeholder(api, node)
        body = {"claim_code": code, "latitude": 21.9, "longitude": 110.8, "site": "P-0001", "endpoints": EP}
        return (await c.post("/api/v1/provisioning/claim", json=body, headers=h)).status_code
    return (await requests[op]()).status_code


READS = ["getNode", "getDevice", "getDeviceLatest", "getDeviceReadings"]
EXPECT: dict[str, set[str]] = {
    **{op: set(ROLE.values()) for op in READS},
    "updateNode": WRITERS,
    "rotateNodeCredentials": WRITERS,
    "createNode": WRITERS,
    "claimNode": INSTALLERS,
    "sendCommand:write": WRITERS,
    "sendCommand:probe": INSTALLERS,
    "pushNodeConfig": WRITERS,
}
ADMITTED = {"createNode": 201, "sendCommand:write": 503, "sendCommand:probe": 503, "pushNodeConfig": 503}


@pytest.mark.parametrize("user", sorted(SCOPE))
async def test_node_endpoints_by_role_and_scope(api: Api, user: str) -> None:
    inside, outside = SCOPE[user]
    got, want = {}, {}
    for op, allowed in EXPECT.items():
        for where, node in (("inside", inside), ("outside", outside)):
            got[op, where] = await _call(api, user, op, node)
            expected = _scoped(user, allowed, where == "inside")
            want[op, where] = ADMITTED.get(op, 200) if expected == 200 else expected
    assert got == want


@pytest.mark.parametrize("user", sorted(SCOPE))
async def test_lists_show_only_the_scope(api: Api, user: str) -> None:
    inside, outside = SCOPE[user]
    nodes = {n["id"] for n in (await api.client.get("/api/v1/nodes", headers=api.auth(user))).json()}
    devices = {d["node_id"] for d in (await api.client.get("/api/v1/devices", headers=api.auth(user))).json()}
    assert inside in nodes and inside in devices
    assert (outside in nodes) == (user == "admin") == (outside in devices)


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/users", {"admin", "admin_t1"}),
        ("/api/v1/audit", {"admin", "admin_t1"}),
        ("/api/v1/dead-letters", {"admin"}),  # city-wide data: unscoped callers only
        ("/api/v1/tokens", set(SCOPE)),
    ],
)
async def test_administrative_reads(api: Api, path: str, allowed: set[str]) -> None:
    got = {u: (await api.client.get(path, headers=api.auth(u))).status_code for u in SCOPE}
    assert got == {u: 200 if u in allowed else 403 for u in SCOPE}


async def test_revoke_credentials_by_role_and_scope(api: Api) -> None:
    await api.client.post("/api/v1/nodes/W1/credentials", headers=api.auth("admin"))
    await api.client.post("/api/v1/nodes/W2/credentials", headers=api.auth("admin"))
    assert (await api.client.delete("/api/v1/nodes/W1/credentials", headers=api.auth("tech_t1"))).status_code == 403
    assert (await api.client.delete("/api/v1/nodes/W2/credentials", headers=api.auth("op_t1_water"))).status_code == 404
    assert (await api.client.delete("/api/v1/nodes/W1/credentials", headers=api.auth("op_t1_water"))).status_code == 204
    assert (await api.client.delete("/api/v1/nodes/W1/credentials", headers=api.auth("admin"))).status_code == 404
