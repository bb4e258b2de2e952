"""The authorization matrix, generated from the rules the routes declare (hub/api/policy.py).

Every role x every declared route x a resource inside and, where the caller
has one, outside its scope. The expected answer comes from the route's rule,
not from this file: a role the rule lacks gets 403; a city-wide rule refuses
a scoped caller (403); a resource named in the path outside the scope is
hidden (404); a body naming a place outside the scope, or a user or token
beyond the caller's own role and scope, is refused (403/404); a list never
shows what lies outside. Each route needs a request below (a new route
without one fails the test).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from hub.alerts.models import Alarm
from hub.api.policy import Rule, declared
from hub.notify.models import OutboxRow
from hub.registry.access import Access, Principal
from hub.registry.provision import Provisioning
from tests.api.conftest import EP, T1, T2, USERS, V1, Api

PLACE = {"W1": (T1, "water"), "W2": (T2, "water"), "P1": (V1, "urban_management")}
KIND = {"W1": "water_gauge", "W2": "water_gauge", "P1": "smart_pole"}
DEVICE = {"W1": "W1.level", "W2": "W2.level", "P1": "P1.lamp"}
NEEDS_BROKER = {"sendCommand", "pushNodeConfig"}  # no broker in this fixture: admitted ends in 503
_n = itertools.count()


@dataclass
class Target:
    """What one request aims at: a node (and its device, alarm, place), a silence, a user."""

    node: str
    alarm: int
    silence: int
    user: str
    key: str

    @property
    def region(self) -> str:
        return PLACE[self.node][0]

    @property
    def department(self) -> str:
        return PLACE[self.node][1]


def _seed(api: Api) -> tuple[dict[str, int], int]:
    """An open alarm and a delivery-log row per node; a city-wide silence. Return alarm ids and the silence id."""
    alarms = {}
    with api.registry.session() as s, s.begin():
        for node, (region, dept) in PLACE.items():
            a = Alarm(
                device=DEVICE[node],
                node=node,
                rule_id="r",
                kind="threshold",
                region_code=region,
                department_id=dept,
                state="active",
                is_open=True,
                severity=2,
                peak_severity=2,
                raised_ms=1,
            )
            s.add(a)
            s.flush()
            alarms[node] = a.id
            s.add(OutboxRow(id=f"o-{node}", alarm_ids=f",{a.id},", channel="sms", kind="raise", message_json="{}",
                            status="sent", next_attempt_ms=0, created_ms=1))  # fmt: skip
    city_wide = api.engine().store.add_silence({}, 0, 2**42, "admin", "city-wide")
    return alarms, city_wide.id


def _principal(api: Api, user: str) -> Principal:
    access = Access(api.registry)
    return access.principal_of(access.get_user(user))


def _targets(api: Api, who: Principal, alarms: dict[str, int], city_silence: int) -> dict[str, Target | None]:
    """The inside and outside targets of ``who`` (``None``: nothing lies outside a city-wide caller)."""
    seen = [n for n in PLACE if who.sees(*PLACE[n])]
    unseen = [n for n in PLACE if not who.sees(*PLACE[n])]
    covered = [u for u in USERS if u != who.user_id and who.covers_principal(_principal(api, u))]
    mine = covered[0] if who.role == "administrator" and covered else who.user_id
    key = Provisioning(api.registry, api.services.kinds).set_kind_key("test", "water_gauge") or ""
    inside_silence = api.engine().store.add_silence(
        {"regions": [PLACE[seen[0]][0]], "departments": [PLACE[seen[0]][1]]}, 0, 2**42, "admin", ""
    )
    inside = Target(seen[0], alarms[seen[0]], inside_silence.id, mine, key)
    outside = None
    if unseen or not who.unscoped:
        node = unseen[0] if unseen else seen[0]
        outside = Target(node, alarms[node], city_silence, "admin", key)
    return {"inside": inside, "outside": outside}


Call = Callable[[Api, dict[str, str], Target], Awaitable[int]]
REQUESTS: dict[str, Call] = {}


def sample(op: str) -> Callable[[Call], Call]:
    def put(fn: Call) -> Call:
        REQUESTS[op] = fn
        return fn

    return put


def _req(op: str, method: str, url: Callable[[Target], str], body: Callable[[Target], Any] | None = None) -> None:
    async def call(api: Api, h: dict[str, str], t: Target) -> int:
        kw = {"json": body(t)} if body is not None else {}
        return (await api.client.request(method, url(t), headers=h, **kw)).status_code

    REQUESTS[op] = call


for _op, _url in {
    "getNode": lambda t: f"/api/v1/nodes/{t.node}",
    "getMapNode": lambda t: f"/api/v1/map/nodes/{t.node}",
    "getDevice": lambda t: f"/api/v1/devices/{DEVICE[t.node]}",
    "getDeviceLatest": lambda t: f"/api/v1/devices/{DEVICE[t.node]}/latest",
    "getDeviceReadings": lambda t: f"/api/v1/devices/{DEVICE[t.node]}/readings",
    "effectiveRules": lambda t: f"/api/v1/alert-rules/{DEVICE[t.node]}",
    "getAlarm": lambda t: f"/api/v1/alarms/{t.alarm}",
    "listLatest": lambda t: "/api/v1/latest",
    "listReadings": lambda t: "/api/v1/readings?start_ms=0",
    "alarmSummary": lambda t: "/api/v1/alarms/summary",
    "listDeadLetters": lambda t: "/api/v1/dead-letters",
    "listAudit": lambda t: "/api/v1/audit",
    "listNodeKinds": lambda t: "/api/v1/node-kinds",
    "listProfiles": lambda t: "/api/v1/profiles",
    "whoAmI": lambda t: "/api/v1/auth/me",
}.items():
    _req(_op, "GET", _url)
_req("updateNode", "PATCH", lambda t: f"/api/v1/nodes/{t.node}", lambda t: {"name": "renamed"})
_req("rotateNodeCredentials", "POST", lambda t: f"/api/v1/nodes/{t.node}/credentials")
_req("sendCommand", "POST", lambda t: f"/api/v1/nodes/{t.node}/commands", lambda t: {"action": "probe"})
_req("pushNodeConfig", "POST", lambda t: f"/api/v1/nodes/{t.node}/config")
_req("acknowledgeAlarm", "POST", lambda t: f"/api/v1/alarms/{t.alarm}/ack", lambda t: {"comment": "on it"})
_req("commentAlarm", "POST", lambda t: f"/api/v1/alarms/{t.alarm}/comments", lambda t: {"text": "note"})
_req("assignAlarm", "POST", lambda t: f"/api/v1/alarms/{t.alarm}/assign", lambda t: {"text": "li.wei"})
_req("deleteSilence", "DELETE", lambda t: f"/api/v1/silences/{t.silence}")
_req("createProvisioningKey", "POST", lambda t: "/api/v1/node-kinds/smart_pole/provisioning-key")
_req("revokeProvisioningKey", "DELETE", lambda t: "/api/v1/node-kinds/smart_pole/provisioning-key")
_req("createToken", "POST", lambda t: "/api/v1/tokens", lambda t: {"user_id": t.user, "name": "matrix"})
_req("putUser", "PUT", lambda t: f"/api/v1/users/{t.user}", lambda t: _user_body(t.user))
_req(
    "createSilence",
    "POST",
    lambda t: "/api/v1/silences",
    lambda t: {"match": {"regions": [t.region], "departments": [t.department]}, "ends_ms": 2**42},
)
_req(
    "createNode",
    "POST",
    lambda t: "/api/v1/nodes",
    lambda t: {"id": f"X-{next(_n)}", "kind": KIND[t.node], "region": t.region, "department": t.department},
)
_req(
    "registerNode",
    "POST",
    lambda t: "/api/v1/provisioning/register",
    lambda t: {"provisioning_key": t.key, "node_id": f"R-{next(_n)}", "region": t.region, "department": t.department,
               "latitude": 21.9, "longitude": 110.8, "site": "P-1", "endpoints": EP},
)  # fmt: skip


def _user_body(user: str) -> dict[str, Any]:
    role, region, depts = USERS[user]
    return {"role": role, "region_scope": region, "departments": depts}


@sample("revokeToken")
async def _revoke_token(api: Api, h: dict[str, str], t: Target) -> int:
    row, _ = Access(api.registry).issue_token("test", t.user, "to revoke")
    return (await api.client.delete(f"/api/v1/tokens/{row.id}", headers=h)).status_code


@sample("revokeNodeCredentials")
async def _revoke_creds(api: Api, h: dict[str, str], t: Target) -> int:
    await api.client.post(f"/api/v1/nodes/{t.node}/credentials", headers=api.auth("admin"))
    return (await api.client.delete(f"/api/v1/nodes/{t.node}/credentials", headers=h)).status_code


@sample("claimNode")
async def _claim(api: Api, h: dict[str, str], t: Target) -> int:
    body = {"id": f"C-{next(_n)}", "kind": KIND[t.node], "region": t.region, "department": t.department}
    made = await api.client.post("/api/v1/nodes", json=body, headers=api.auth("admin"))
    claim = {"claim_code": made.json()["claim_code"], "latitude": 21.9, "longitude": 110.8, "site": "P-1",
             "endpoints": EP}  # fmt: skip
    return (await api.client.post("/api/v1/provisioning/claim", json=claim, headers=h)).status_code


async def _import(api: Api, h: dict[str, str], url: str, csv: str) -> int:
    r = await api.client.post(url, content=csv.encode(), headers={**h, "Content-Type": "text/csv"})
    if r.status_code == 200 and r.json()["failed"]:
        return 404  # a row outside the scope is refused in the per-row report (the file's other rows still land)
    return r.status_code


@sample("importNodes")
async def _import_nodes(api: Api, h: dict[str, str], t: Target) -> int:
    csv = f"id,kind,region,department\nI-{next(_n)},{KIND[t.node]},{t.region},{t.department}\n"
    return await _import(api, h, "/api/v1/nodes/import", csv)


@sample("importDevices")
async def _import_devices(api: Api, h: dict[str, str], t: Target) -> int:
    node, dev = DEVICE[t.node].split(".")
    return await _import(api, h, "/api/v1/devices/import", f"node,device,unit_id\n{node},{dev},7\n")


def _station_body(t: Target) -> dict[str, Any]:
    n = next(_n)
    device = {"id": "met", "profile": "weather_6in1_rs485", "unit_id": 1}
    return {"id": f"S-{n}", "protocol": "dtu", "address": f"86600000{n:07d}", "region": t.region,
            "department": t.department, "devices": [device]}  # fmt: skip


_req("createStation", "POST", lambda t: "/api/v1/stations", _station_body)


async def _station_at(api: Api, t: Target) -> str:
    """A station registered (by the city administrator) at the target's place."""
    body = _station_body(t)
    r = await api.client.post("/api/v1/stations", json=body, headers=api.auth("admin"))
    assert r.status_code == 201, r.text
    return str(body["id"])


@sample("getStation")
async def _get_station(api: Api, h: dict[str, str], t: Target) -> int:
    return (await api.client.get(f"/api/v1/stations/{await _station_at(api, t)}", headers=h)).status_code


@sample("commandStation")
async def _command_station(api: Api, h: dict[str, str], t: Target) -> int:
    url = f"/api/v1/stations/{await _station_at(api, t)}/commands"
    return (await api.client.post(url, json={"action": "clock_query"}, headers=h)).status_code


# List routes: what the answer names (nodes, or silence / user ids), to check nothing outside shows.
def _nodes_of(key: str) -> Callable[[Any], set[str]]:
    return lambda body: {item[key] for item in body}


LISTS: dict[str, tuple[str, Callable[[Any], set[str]] | None]] = {
    "listNodes": ("/api/v1/nodes", _nodes_of("id")),
    "listDevices": ("/api/v1/devices", _nodes_of("node_id")),
    "getMap": ("/api/v1/map", lambda body: {n["id"] for n in body["nodes"]}),
    "listAlarms": ("/api/v1/alarms", _nodes_of("node")),
    "deliveryLog": ("/api/v1/notifications", lambda body: {o["id"][2:] for o in body}),
    "listSilences": ("/api/v1/silences", lambda body: {str(s["id"]) for s in body if s["source"] == "api"}),
    "listTokens": ("/api/v1/tokens", _nodes_of("user_id")),
    "listUsers": ("/api/v1/users", _nodes_of("id")),
    # Empty in this fixture (no readings stored): admission is checked, the filter by tests/api/test_map_api.py.
    "listLatest": ("/api/v1/latest", None),
    "listStations": ("/api/v1/stations", None),  # the filter: tests/stations/test_api.py
    "listReadings": ("/api/v1/readings?start_ms=0", None),
    "alarmSummary": ("/api/v1/alarms/summary", None),
}


def _named(op: str, t: Target) -> str:
    if op == "listSilences":
        return str(t.silence)
    if op in ("listTokens", "listUsers"):
        return t.user
    return t.node


def _verdict(rule: Rule, who: Principal, where: str, op: str) -> set[int] | str:
    """The answers the rule allows: a set of status codes, or ``"admitted"``."""
    if who.role not in rule.roles or (rule.scope == "city" and not who.unscoped):
        return {403}
    if where == "inside" or rule.scope in ("list", "catalogue", "city"):
        return "admitted"
    if rule.scope in ("node", "device", "alarm", "silence"):
        return {404}
    return {403, 404}  # body, grant: refused, with or without revealing the target


def _admitted(op: str, status: int) -> bool:
    return status not in (401, 403, 404) and (status < 500 or (op in NEEDS_BROKER and status == 503))


async def _list_call(api: Api, h: dict[str, str], op: str) -> tuple[int, Any]:
    r = await api.client.get(LISTS[op][0], headers=h)
    return r.status_code, r.json() if r.status_code == 200 else None


@pytest.mark.parametrize("user", sorted(USERS))
async def test_every_declared_route_by_role_and_scope(alerted: Api, user: str) -> None:
    api = alerted
    alarms, city_silence = _seed(api)
    who = _principal(api, user)
    targets = _targets(api, who, alarms, city_silence)
    h = api.auth(user)
    routes = [(r, rule) for r, rule in declared(api.app) if rule is not None]  # type: ignore[arg-type]
    assert len(routes) >= 42
    wrong: dict[tuple[str, str], Any] = {}
    for route, rule in routes:
        op = route.operation_id or route.path
        assert op in REQUESTS or op in LISTS, f"{op}: add a request for it to the generated matrix"
        for where, t in targets.items():
            if t is None:
                continue
            want = _verdict(rule, who, where, op)
            if op in LISTS:
                status, body = await _list_call(api, h, op)
                extract = LISTS[op][1]
                if want != {403} and status == 200 and extract is not None:
                    names = extract(body)
                    if (where == "inside") != (_named(op, t) in names):
                        wrong[op, where] = f"list shows {sorted(names)}"
                    continue
            else:
                status = await REQUESTS[op](api, h, t)
            ok = _admitted(op, status) if want == "admitted" else status in want
            if not ok:
                wrong[op, where] = (status, want)
    assert wrong == {}


async def test_a_technician_probes_but_may_not_write_points(alerted: Api) -> None:
    write = {"action": "write", "device": "lamp", "metric": "dim_level", "value": 40}
    r = await alerted.client.post("/api/v1/nodes/P1/commands", json=write, headers=alerted.auth("tech_t1"))
    assert r.status_code == 403


async def test_a_town_admin_cannot_reach_the_city_admin(alerted: Api) -> None:
    """Finding 4: a token for the city admin, revoking its tokens, listing every user."""
    api, h = alerted, alerted.auth("admin_t1")
    r = await api.client.post("/api/v1/tokens", json={"user_id": "admin"}, headers=h)
    assert r.status_code == 404
    theirs = [t["id"] for t in (await api.client.get("/api/v1/tokens", headers=api.auth("admin"))).json()
              if t["user_id"] == "admin"]  # fmt: skip
    for tid in theirs:
        assert (await api.client.delete(f"/api/v1/tokens/{tid}", headers=h)).status_code == 404
    assert (await api.client.get("/api/v1/nodes", headers=api.auth("admin"))).status_code == 200
    listed = {u["id"] for u in (await api.client.get("/api/v1/users", headers=h)).json()}
    assert listed == {"admin_t1", "op_t1_water", "tech_t1"}
    # Nor make anyone, itself included, wider than itself.
    for body in ({"role": "administrator"}, {"role": "operator", "region_scope": T2}):
        assert (await api.client.put("/api/v1/users/tech_t1", json=body, headers=h)).status_code == 403
    assert (
        await api.client.put("/api/v1/users/admin_t1", json={"role": "administrator"}, headers=h)
    ).status_code == 403


async def test_silences_stay_in_the_town(alerted: Api) -> None:
    """A town operator may not silence another town or the whole city, nor end the city admin's silence."""
    api, h = alerted, alerted.auth("op_t1_water")
    for match in ({"regions": [T2], "departments": ["water"]}, {}, {"regions": [T1]}):
        r = await api.client.post("/api/v1/silences", json={"match": match, "ends_ms": 2**42}, headers=h)
        assert r.status_code == 403, match
    admins = await api.client.post("/api/v1/silences", json={"match": {}, "ends_ms": 2**42}, headers=api.auth("admin"))
    assert admins.status_code == 201, admins.text
    assert (await api.client.delete(f"/api/v1/silences/{admins.json()['id']}", headers=h)).status_code == 404
    assert admins.json()["id"] in {
        s.get("id") for s in (await api.client.get("/api/v1/silences", headers=api.auth("admin"))).json()
    }
    mine = {"match": {"regions": [T1], "departments": ["water"]}, "ends_ms": 2**42}
    assert (await api.client.post("/api/v1/silences", json=mine, headers=h)).status_code == 201
    listed = [json.dumps(s) for s in (await api.client.get("/api/v1/silences", headers=h)).json()]
    assert len(listed) == 1 and T1 in listed[0]
