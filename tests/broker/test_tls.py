"""Agents reach the broker over TLS with a client certificate; without one, or with a forged CA, they cannot."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from citysense.agentconfig import HubLink
from citysense.tls import TlsFiles
from edge_agent.hubclient import hub_client
from tests.harness.mosquitto import MosquittoServer, TlsListener
from tests.harness.pki import Pki, make_pki
from tests.harness.ports import free_port


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_broker(pki: Pki) -> Iterator[MosquittoServer]:
    listener = TlsListener(free_port(), pki.ca_cert, pki.server_cert, pki.server_key, require_certificate=True)
    with MosquittoServer(tls=listener) as broker:
        yield broker


def _link(broker: MosquittoServer, **tls: Path) -> HubLink:
    assert broker.tls is not None
    return HubLink(url=f"mqtts://127.0.0.1:{broker.tls.port}", tls=TlsFiles(**tls), connect_timeout_s=5)


async def test_agent_with_client_certificate_publishes_over_tls(pki: Pki, tls_broker: MosquittoServer) -> None:
    cert, key = pki.issue("GZ-WG-0001")
    link = _link(tls_broker, ca_file=pki.ca_cert, cert_file=cert, key_file=key)
    async with aiomqtt.Client("127.0.0.1", tls_broker.port, identifier="hub-tls-test") as hub:  # plain listener
        await hub.subscribe("citysense/v1/GZ-WG-0001/telemetry", qos=1)
        async with hub_client(link, "agent-GZ-WG-0001") as agent:
            await agent.publish("citysense/v1/GZ-WG-0001/telemetry", b"{}", qos=1, timeout=5)
        async with asyncio.timeout(5):
            message = await anext(aiter(hub.messages))
    assert message.topic.value == "citysense/v1/GZ-WG-0001/telemetry"


async def test_agent_without_client_certificate_is_refused(pki: Pki, tls_broker: MosquittoServer) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with hub_client(_link(tls_broker, ca_file=pki.ca_cert), "agent-no-cert"):
            pass


async def test_agent_refuses_a_broker_signed_by_another_ca(
    pki: Pki, tls_broker: MosquittoServer, tmp_path: Path
) -> None:
    other = make_pki(tmp_path / "other")
    cert, key = pki.issue("GZ-WG-0002")
    with pytest.raises(aiomqtt.MqttError):
        async with hub_client(_link(tls_broker, ca_file=other.ca_cert, cert_file=cert, key_file=key), "agent-x"):
            pass


def test_tls_settings_need_mqtts_and_a_key_with_the_certificate(pki: Pki) -> None:
    with pytest.raises(ValueError, match="mqtts"):
        HubLink(url="mqtt://127.0.0.1:1883", tls=TlsFiles(ca_file=pki.ca_cert))
    with pytest.raises(ValueError, match="go together"):
        TlsFiles(cert_file=pki.server_cert)
