"""One write of a group's PUBACKs acknowledges every message of it, and nothing else."""

from __future__ import annotations

import aiomqtt

from hub.ingest.acks import ack_all
from hub.ingest.fastpublish import incoming
from tests.harness import MosquittoServer
from tests.hub.conftest import take

TOPIC = "acks/test"


def _session(broker: MosquittoServer, client_id: str) -> aiomqtt.Client:
    client = aiomqtt.Client(broker.host, broker.port, identifier=client_id, clean_session=False, timeout=10)
    client._client.manual_ack_set(True)
    return client


async def _publish(broker: MosquittoServer, payloads: list[bytes]) -> None:
    async with aiomqtt.Client(broker.host, broker.port, timeout=10) as pub:
        for p in payloads:
            await pub.publish(TOPIC, p, qos=1)


async def test_acked_group_is_not_redelivered_and_the_unacked_rest_is(mosquitto: MosquittoServer) -> None:
    async with _session(mosquitto, "acks-1") as sub:
        await sub.subscribe(TOPIC, qos=1)
    await _publish(mosquitto, [b"%d" % i for i in range(100)])  # the harness broker's inflight window
    async with _session(mosquitto, "acks-1") as sub:
        got = [incoming(m) for m in await take(sub, 100)]
        assert ack_all(sub, got[:60]) == 60  # the first 60 only, as one packet
        await sub.publish("acks/flush", b"", qos=1)  # queued behind the PUBACKs: its own PUBACK means they arrived
    async with _session(mosquitto, "acks-1") as sub:
        again = [incoming(m) for m in await take(sub, 40)]
        assert [m.payload for m in again] == [b"%d" % i for i in range(60, 100)]
        ack_all(sub, again)
        await _publish(mosquitto, [b"marker"])
        marker = incoming((await take(sub, 1))[0])  # nothing else came first: the rest was acknowledged
        assert marker.payload == b"marker"
        ack_all(sub, [marker])
