"""A province hub with ``broker_admin.kind: nats``: its API's claim, rotation and revocation act on the NATS tier."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import httpx

from citysense.agentconfig import AgentConfig
from citysense.brokerids import control_client_id, control_username, uplink_client_id
from hub.cluster.settings import ClusterSettings
from hub.config import HubSettings
from hub.demo.run import REGIONS
from hub.runtime import running_hub
from tests.cluster.conftest import PARTITIONS, admin_settings
from tests.harness.nats import WORKER, NatsCluster

VILLAGE_TOWN = "440981103"
NODE = "GZ-WG-0301"
PREFIX = "citysense/v1"


def _settings(tmp_path: Path, cluster: NatsCluster, seed: str) -> HubSettings:
    host, port = cluster.mqtt_endpoints[0]
    return HubSettings(
        data_dir=tmp_path / "hub",
        mqtt_url=f"mqtt://{host}:{port}",
        mqtt_password="hub-secret-province",
        broker_admin=admin_settings(cluster, seed),
        cluster=ClusterSettings(
            nats_urls=cluster.urls,
            username=WORKER[0],
            password=WORKER[1],
            partitions=PARTITIONS.count,
            worker="w1",
        ),
        fleet_file=REGIONS,
        api_port=0,
    )


def _client(cluster: NatsCluster, username: str, password: str, client_id: str) -> aiomqtt.Client:
    host, port = cluster.mqtt_endpoints[2]  # another member than the hub's
    return aiomqtt.Client(host, port, username=username, password=password, identifier=client_id, timeout=10)


@contextlib.asynccontextmanager
async def _logged_in(
    cluster: NatsCluster, username: str, password: str, client_id: str
) -> AsyncIterator[aiomqtt.Client]:
    """Log in as an agent does: again after a login that got no answer at all; a refusal is final.

    An MQTT login on NATS runs the callout and records the session in JetStream (R3): while JetStream elected its
    leaders on a loaded 2-core machine, two clean-clone runs saw a login unanswered for 10 s and then for 30 s.
    """
    for attempt in range(4):
        client = _client(cluster, username, password, client_id)
        try:
            await client.__aenter__()
        except aiomqtt.MqttCodeError:
            raise  # the server answered: refused
        except aiomqtt.MqttError:
            if attempt == 3:
                raise
            await asyncio.sleep(1)
            continue
        break
    try:
        yield client
    finally:
        await client.__aexit__(None, None, None)


async def _refused(cluster: NatsCluster, username: str, password: str, client_id: str) -> bool:
    try:
        async with _client(cluster, username, password, client_id):
            return False
    except aiomqtt.MqttError:
        return True


async def _push_config(api: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Push the node's configuration, waiting (bounded) for the hub's command session to log in."""
    for _ in range(50):
        r = await api.post(f"/api/v1/nodes/{NODE}/config", headers=admin)
        if r.status_code == 200:
            return
        assert r.status_code == 503, r.text
        await asyncio.sleep(0.2)  # the command session is connecting through the callout
    raise AssertionError("the hub's command session never connected")


def _sample(text: str, series: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(series + " "))


async def _until(ok: Callable[[], bool], what: str) -> None:
    for _ in range(100):  # 20 s: the broker watch pings every broker_ping_s (5 s)
        if ok():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(what)


async def test_claim_rotate_and_revoke_through_the_api(tmp_path: Path, auth_cluster: tuple[NatsCluster, str]) -> None:
    cluster, seed = auth_cluster
    async with (
        running_hub(_settings(tmp_path, cluster, seed)) as hub,
        httpx.AsyncClient(base_url=hub.api_url, timeout=30) as api,
    ):
        admin = {"Authorization": f"Bearer {hub.admin_token}"}
        body = {"id": NODE, "kind": "water_gauge", "region": VILLAGE_TOWN}
        code = (await api.post("/api/v1/nodes", json=body, headers=admin)).json()["claim_code"]
        claim: dict[str, Any] = {
            "claim_code": code, "latitude": 21.9, "longitude": 110.8, "site": "S-1",
            "endpoints": {"rs485": {"host": "127.0.0.1", "port": 5020}},
        }  # fmt: skip
        r = await api.post("/api/v1/provisioning/claim", json=claim, headers=admin)
        assert r.status_code == 200, r.text
        cfg = AgentConfig.model_validate(r.json()["agent_config"])
        user, pw = cfg.hub.username or "", cfg.hub.password.get_secret_value() if cfg.hub.password else ""
        assert user == NODE

        # The agent's credentials reach its own config, which the hub's command account pushes.
        async with _logged_in(cluster, user, pw, uplink_client_id(NODE)) as uplink:
            await uplink.subscribe(f"{PREFIX}/{NODE}/config", qos=1)
            await _push_config(api, admin)
            async with asyncio.timeout(10):
                msg = await anext(aiter(uplink.messages))
            assert str(msg.topic) == f"{PREFIX}/{NODE}/config"
        probe = hub.services.broker
        await _until(lambda: probe is not None and probe.echoes > 0, "the hub's probe account never heard its echo")

        r = await api.post(f"/api/v1/nodes/{NODE}/credentials", headers=admin)
        assert r.status_code == 200, r.text
        rotated = AgentConfig.model_validate(r.json()["agent_config"]).hub.password
        new_pw = rotated.get_secret_value() if rotated else ""
        assert await _refused(cluster, user, pw, uplink_client_id(NODE))
        assert not await _refused(cluster, control_username(NODE), new_pw, control_client_id(NODE))

        assert (await api.delete(f"/api/v1/nodes/{NODE}/credentials", headers=admin)).status_code == 204
        assert await _refused(cluster, user, new_pw, uplink_client_id(NODE))

        # The operator sees the callout's answers (this hub is the only one answering here).
        text = (await api.get("/metrics", headers=admin)).text
        counts = {r: _sample(text, f'citysense_broker_logins_total{{result="{r}"}}') for r in ("allowed", "refused")}
        assert counts["allowed"] >= 3 and counts["refused"] >= 2, counts
