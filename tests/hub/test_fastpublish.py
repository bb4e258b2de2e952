"""The hub's own PUBLISH parsing hands over exactly what paho would, in order, with paho still doing the rest."""

from __future__ import annotations

import aiomqtt
import paho.mqtt.client as paho

from hub.ingest.acks import ack_all
from hub.ingest.fastpublish import Incoming, fast_publish, incoming
from hub.ingest.readahead import read_ahead
from tests.harness import MosquittoServer
from tests.hub.conftest import take

BIG = bytes(range(256)) * 400  # 100 KiB: longer than one read-ahead buffer


async def test_every_qos_and_payload_arrives_in_order_as_published(mosquitto: MosquittoServer) -> None:
    sent = [
        ("fast/a", b"plain", 1),
        ("fast/ü/b", b"", 1),  # a UTF-8 topic and an empty payload
        ("fast/c", BIG, 1),
        ("fast/d", b"at most once", 0),
        ("fast/e", b"exactly once", 2),  # QoS 2: paho keeps handling it
        ("fast/f", b"\xff\x00 not text", 1),
    ]
    sub = aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="fast-sub", timeout=10)
    sub._client.manual_ack_set(True)
    assert fast_publish(sub)
    async with sub:
        read_ahead(sub)
        await sub.subscribe("fast/#", qos=2)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, timeout=10) as pub:
            for topic, payload, qos in sent:
                await pub.publish(topic, payload, qos=qos)
        got = await take(sub, len(sent))
        # paho hands a QoS 2 message over only once the broker releases it (PUBREL), so it may come after later ones.
        assert [incoming(m).qos for m in got if isinstance(m, aiomqtt.Message)] == [2]  # only QoS 2 took paho's path
        plain = [incoming(m) for m in got]
        assert [(m.topic, m.payload, m.qos) for m in plain if m.qos < 2] == [s for s in sent if s[2] < 2]
        assert [(m.topic, m.payload) for m in plain if m.qos == 2] == [("fast/e", b"exactly once")]
        assert all(m.mid > 0 for m in plain if m.qos > 0)
        assert ack_all(sub, plain) == 5  # every QoS 1 and 2 message


async def test_an_mqtt5_client_keeps_pahos_parsing(mosquitto: MosquittoServer) -> None:
    sub = aiomqtt.Client(mosquitto.host, mosquitto.port, protocol=aiomqtt.ProtocolVersion.V5, timeout=10)
    assert not fast_publish(sub)
    async with sub:
        await sub.subscribe("fast5/x", qos=1)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, timeout=10) as pub:
            await pub.publish("fast5/x", b"v5", qos=1)
        (m,) = await take(sub, 1)
        assert isinstance(m, aiomqtt.Message) and incoming(m).payload == b"v5"
    assert paho.MQTTv5 == sub._client._protocol


async def test_a_long_stream_of_mixed_sizes_arrives_whole_and_in_order(mosquitto: MosquittoServer) -> None:
    # Sizes around the 64 KiB read-ahead buffer and the 1- to 3-byte remaining lengths: packets split across reads.
    sizes = [0, 1, 126, 127, 128, 16_383, 16_384, 70_000, 5, 65_530, 300] * 20
    payloads = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    sub = aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="fast-long", timeout=10)
    sub._client.manual_ack_set(True)
    fast_publish(sub)
    async with sub:
        read_ahead(sub)
        await sub.subscribe("fast/long", qos=1)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, timeout=10) as pub:
            for p in payloads:
                await pub.publish("fast/long", p, qos=1)
        got: list[Incoming] = []
        while len(got) < len(payloads):  # acknowledged as they come: the broker holds back past 100 unacked
            group = [incoming(m) for m in await take(sub, min(50, len(payloads) - len(got)))]
            ack_all(sub, group)
            got += group
        assert [m.payload for m in got] == payloads
