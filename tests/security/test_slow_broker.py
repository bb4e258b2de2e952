"""Issue 12, finding 7: a claim waiting on a stalled broker holds no registry lock; the hub stays up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import httpx
import pytest

from hub.config import BrokerAdminSettings
from tests.alerts.stack import eventually
from tests.harness.mosquitto import DYNSEC_ADMIN, MosquittoServer
from tests.security.prodhub import ProdHub, claim_body, prod_hub, production_settings

# Longer than SQLite's default 5 s busy timeout: a claim that held the write lock meanwhile would fail the login.
BROKER_TIMEOUT_S = 6.0


@contextlib.contextmanager
def stalled(broker: MosquittoServer) -> Iterator[None]:
    """The broker process is stopped (SIGSTOP): connections are accepted by the kernel, nothing answers."""
    pid = broker._proc.pid if broker._proc else 0
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def _status(site: ProdHub, node_id: str) -> str:
    r = await site.api.get(f"/api/v1/nodes/{node_id}", headers=site.admin)
    return str(r.json()["status"])


async def _is(site: ProdHub, node_id: str, status: str) -> bool:
    return await _status(site, node_id) == status


async def test_a_stalled_broker_during_a_claim_blocks_no_login(tmp_path: Path, dynsec_broker: MosquittoServer) -> None:
    admin = BrokerAdminSettings(username=DYNSEC_ADMIN[0], password=DYNSEC_ADMIN[1], timeout_s=BROKER_TIMEOUT_S)
    async with prod_hub(production_settings(tmp_path, dynsec_broker, broker_admin=admin)) as site:
        code = (await site.placeholder("GZ-WG-0950")).json()["claim_code"]
        tech = await site.user("li.wei", "technician", "tech-pw-123")
        with stalled(dynsec_broker):
            claim = asyncio.create_task(
                site.api.post("/api/v1/provisioning/claim", json=claim_body(code), headers=tech), name="test:claim"
            )
            # The claim has reserved the node and now waits on the broker.
            await eventually(lambda: _is(site, "GZ-WG-0950", "claiming"), BROKER_TIMEOUT_S, "the claim to start")
            login = await site.api.post("/api/v1/auth/login", json={"username": "li.wei", "password": "tech-pw-123"})
            assert login.status_code == 200, login.text
            assert not claim.done()  # the login was served while the claim still waited on the broker
            r = await claim
            assert r.status_code == 503 and "nothing changed" in r.text, r.text
            assert await _status(site, "GZ-WG-0950") == "placeholder"  # the compensating step
            assert (await site.api.get("/api/v1/health", headers=site.admin)).status_code == 200
        # The broker is back (it may first finish what it was sent while stopped): the same code claims the node.
        answers: list[httpx.Response] = []

        async def claimed() -> bool:
            answers.append(await site.api.post("/api/v1/provisioning/claim", json=claim_body(code), headers=tech))
            return answers[-1].status_code != 503

        await eventually(claimed, 30, "the claim to go through")
        r = answers[-1]
        assert r.status_code == 200, r.text
        assert await _status(site, "GZ-WG-0950") == "claimed"


async def test_a_revocation_the_broker_did_not_take_changes_nothing(
    tmp_path: Path, dynsec_broker: MosquittoServer
) -> None:
    """The broker disables first, the registry records after: a stalled broker leaves the node as it was."""
    admin = BrokerAdminSettings(username=DYNSEC_ADMIN[0], password=DYNSEC_ADMIN[1], timeout_s=1.0)
    async with prod_hub(production_settings(tmp_path, dynsec_broker, broker_admin=admin)) as site:
        code = (await site.placeholder("GZ-WG-0951")).json()["claim_code"]
        tech = await site.user("li.wei", "technician", "tech-pw-123")
        claimed = await site.api.post("/api/v1/provisioning/claim", json=claim_body(code), headers=tech)
        link = claimed.json()["agent_config"]["hub"]
        with stalled(dynsec_broker):
            r = await site.api.delete("/api/v1/nodes/GZ-WG-0951/credentials", headers=site.admin)
            assert r.status_code == 503 and "nothing changed" in r.text, r.text
        r = await site.api.delete("/api/v1/nodes/GZ-WG-0951/credentials", headers=site.admin)
        assert r.status_code == 204, r.text  # still active in the registry, so it could be revoked again
        for user, client_id in (
            (link["username"], link["client_id"]),
            (link["control_username"], link["control_client_id"]),
        ):
            with pytest.raises(aiomqtt.MqttError):
                async with aiomqtt.Client(
                    dynsec_broker.host,
                    dynsec_broker.port,
                    username=user,
                    password=link["password"],
                    identifier=client_id,
                ):
                    pass
        r = await site.api.delete("/api/v1/nodes/GZ-WG-0951/credentials", headers=site.admin)
        assert r.status_code == 404  # nothing active any more
