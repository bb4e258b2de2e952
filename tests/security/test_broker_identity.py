"""Issue 12, finding 1 through the API of a production hub: a node named after a broker account gets nothing."""

from __future__ import annotations

from pathlib import Path

import aiomqtt
import pytest

from citysense.brokerids import control_client_id, control_username, uplink_client_id
from hub.broker.dynsec import DynSec
from hub.registry import provision
from tests.harness.mosquitto import DYNSEC_ADMIN, MosquittoServer
from tests.security.prodhub import ProdHub, claim_body, prod_hub, production_settings

SERVICE_NAMES = ["citysense-hub", "CitySense-Hub", "citysense-hub:cmd", DYNSEC_ADMIN[0], "admin", "agent-GZ-WG-1"]


def _admin(broker: MosquittoServer) -> DynSec:
    """A dynsec session with the administrator's original password: it still working proves it was not reset."""
    return DynSec(broker.host, broker.port, *DYNSEC_ADMIN, timeout_s=5)


async def _broker_unchanged(broker: MosquittoServer, site: ProdHub) -> None:
    admin = _admin(broker)
    assert await admin.roles_of(DYNSEC_ADMIN[0]) == {"admin"}
    assert await admin.roles_of("citysense-hub") == {"hub"}
    assert await admin.roles_of("citysense-hub:cmd") == {"hub"}
    assert site.hub.consumer.subscribed.is_set()  # the hub's own session still ingests


async def test_a_node_named_after_a_service_account_is_refused_everywhere(
    tmp_path: Path, dynsec_broker: MosquittoServer
) -> None:
    async with prod_hub(production_settings(tmp_path, dynsec_broker)) as site:
        for name in SERVICE_NAMES:
            r = await site.placeholder(name)
            assert r.status_code == 422, (name, r.text)
        csv = "id,kind,region\n" + "".join(f"{n},water_gauge,440981103\n" for n in [*SERVICE_NAMES, "GZ-WG-0900"])
        headers = {**site.admin, "Content-Type": "text/csv"}
        report = (await site.api.post("/api/v1/nodes/import", content=csv, headers=headers)).json()
        assert (report["created"], report["failed"]) == (1, len(SERVICE_NAMES))
        key = await site.api.post("/api/v1/node-kinds/water_gauge/provisioning-key", headers=site.admin)
        assert key.status_code in (200, 201), key.text
        tech = await site.user("li.wei", "technician", "tech-pw-123")
        register = {
            **claim_body(""),
            "provisioning_key": key.json()["provisioning_key"],
            "node_id": "citysense-hub",
            "region": "440981103",
        }
        del register["claim_code"]
        r = await site.api.post("/api/v1/provisioning/register", json=register, headers=tech)
        assert r.status_code == 422, r.text
        await _broker_unchanged(dynsec_broker, site)


async def test_an_old_placeholder_named_after_the_admin_cannot_be_claimed(
    tmp_path: Path, dynsec_broker: MosquittoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A placeholder made before names were reserved: the claim refuses it and the admin's password stays."""
    async with prod_hub(production_settings(tmp_path, dynsec_broker)) as site:
        with monkeypatch.context() as m:
            m.setattr(provision, "check_node_id", lambda *_a: None)
            r = await site.placeholder(DYNSEC_ADMIN[0])
        assert r.status_code == 201, r.text
        tech = await site.user("li.wei", "technician", "tech-pw-123")
        r = await site.api.post("/api/v1/provisioning/claim", json=claim_body(r.json()["claim_code"]), headers=tech)
        assert r.status_code == 422 and "service account" in r.text, r.text
        node = (await site.api.get(f"/api/v1/nodes/{DYNSEC_ADMIN[0]}", headers=site.admin)).json()
        assert node["status"] == "placeholder"
        await _broker_unchanged(dynsec_broker, site)


async def test_a_node_named_after_a_foreign_account_changes_nothing(
    tmp_path: Path, dynsec_broker: MosquittoServer
) -> None:
    """An account the hub did not create (a bridge, made by hand) is never reset by a claim: 409, code still valid."""
    admin = _admin(dynsec_broker)
    await admin.run([{"command": "createClient", "username": "bridge01", "password": "bridge-pw"}])
    async with prod_hub(production_settings(tmp_path, dynsec_broker)) as site:
        code = (await site.placeholder("bridge01")).json()["claim_code"]
        tech = await site.user("li.wei", "technician", "tech-pw-123")
        for _ in range(2):  # the failed claim gave the node back to its code
            r = await site.api.post("/api/v1/provisioning/claim", json=claim_body(code), headers=tech)
            assert r.status_code == 409 and "nothing changed" in r.text, r.text
        node = (await site.api.get("/api/v1/nodes/bridge01", headers=site.admin)).json()
        assert node["status"] == "placeholder"
    async with aiomqtt.Client(dynsec_broker.host, dynsec_broker.port, username="bridge01", password="bridge-pw"):
        pass  # its own password still works


async def test_claimed_credentials_work_under_their_own_client_ids_only(
    tmp_path: Path, dynsec_broker: MosquittoServer
) -> None:
    async with prod_hub(production_settings(tmp_path, dynsec_broker)) as site:
        code = (await site.placeholder("GZ-WG-0901")).json()["claim_code"]
        tech = await site.user("li.wei", "technician", "tech-pw-123")
        r = await site.api.post("/api/v1/provisioning/claim", json=claim_body(code), headers=tech)
        assert r.status_code == 200, r.text
        link = r.json()["agent_config"]["hub"]
        assert (link["client_id"], link["control_username"], link["control_client_id"]) == (
            uplink_client_id("GZ-WG-0901"),
            control_username("GZ-WG-0901"),
            control_client_id("GZ-WG-0901"),
        )
        host, port, password = dynsec_broker.host, dynsec_broker.port, link["password"]
        for user in (link["username"], link["control_username"]):
            for victim in ("citysense-hub", "citysense-hub:cmd", uplink_client_id("GZ-WG-0902")):
                with pytest.raises(aiomqtt.MqttError, match=r"135|Not authorized"):
                    async with aiomqtt.Client(host, port, username=user, password=password, identifier=victim):
                        pass
        async with aiomqtt.Client(
            host, port, username=link["username"], password=password, identifier=link["client_id"]
        ):
            pass
        assert site.hub.consumer.subscribed.is_set()


async def test_a_failed_registration_leaves_no_placeholder(tmp_path: Path, dynsec_broker: MosquittoServer) -> None:
    """Registering with a provisioning key onto a foreign account: 409, and the node id is free again."""
    await _admin(dynsec_broker).run([{"command": "createClient", "username": "bridge02", "password": "bridge-pw"}])
    async with prod_hub(production_settings(tmp_path, dynsec_broker)) as site:
        key = await site.api.post("/api/v1/node-kinds/water_gauge/provisioning-key", headers=site.admin)
        tech = await site.user("li.wei", "technician", "tech-pw-123")
        body = {k: v for k, v in claim_body("").items() if k != "claim_code"}
        body |= {"provisioning_key": key.json()["provisioning_key"], "node_id": "bridge02", "region": "440981103"}
        for _ in range(2):  # the second attempt meets the broker again, not a leftover placeholder
            r = await site.api.post("/api/v1/provisioning/register", json=body, headers=tech)
            assert r.status_code == 409 and "not the hub's" in r.text, r.text
        assert (await site.api.get("/api/v1/nodes/bridge02", headers=site.admin)).status_code == 404
