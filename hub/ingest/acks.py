"""Acknowledge a group of QoS 1 messages with one write to the socket.

paho's ``Client.ack(mid, qos)`` queues one 4-byte PUBACK per message, and
paho then writes each queued packet with its own ``send`` call (plus a byte to
its wake-up socket pair per packet): for a group of 500 messages, a thousand
system calls. Profiling the hub under load put 8 % of its main thread there.

:func:`ack_all` builds the group's PUBACKs (MQTT 3.1.1 §3.4, and MQTT 5 §3.4.2.1:
with reason Success and no properties the PUBACK is the same 4 bytes) and
hands them to paho's output queue as one packet, which paho writes in as few
``send`` calls as the socket takes (it resumes a partly written packet), in
order with anything else queued. QoS 2 messages (the hub subscribes at QoS 1,
so the broker sends none) go through ``Client.ack`` as before.

:func:`publish_ack` tells a node how far its batches are durable
(:class:`~citysense.contract.IngestAck`, retained at QoS 1 on its ``ack``
topic) without waiting for the broker's PUBACK: paho queues it in order with
the group's PUBACKs, and the broker keeps the newest per node for an agent
that is away.

It relies on paho-mqtt 2.2's private ``_packet_queue`` (pinned in
``pyproject.toml``; ``tests/hub/test_delivery.py`` and the SIGKILL and
broker-restart tests exercise it).
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Iterable

import aiomqtt
from paho.mqtt.enums import MQTTErrorCode

from citysense.contract import Channel, topic
from hub.ingest.fastpublish import Incoming

log = logging.getLogger(__name__)

PUBACK = 0x40
_PUBACK = struct.Struct("!BBH")


def ack_all(client: aiomqtt.Client, messages: Iterable[Incoming]) -> int:
    """Acknowledge every QoS 1 and 2 message of a group; return how many were acknowledged."""
    paho = client._client  # aiomqtt exposes no batched acknowledgement
    pack = _PUBACK.pack
    acks: list[bytes] = []
    n = 0
    for m in messages:
        if m.qos == 1:
            acks.append(pack(PUBACK, 2, m.mid))
        elif m.qos == 2:
            paho.ack(m.mid, m.qos)
            n += 1
    if acks:
        paho._packet_queue(PUBACK, b"".join(acks), 0, 1)
    return n + len(acks)


def ack_payload(node: str, epoch: str, seq: int) -> bytes:
    """An :class:`~citysense.contract.IngestAck` as JSON, built directly (one per node and group, on the hot path).

    ``node`` and ``epoch`` come from a topic and a batch the contract validated
    (their patterns need no JSON escaping); ``tests/hub/test_poison.py`` reads
    it back through the contract.
    """
    return b'{"v":1,"node":"%s","epoch":"%s","seq":%d,"ts_ms":%d}' % (
        node.encode(),
        epoch.encode(),
        seq,
        time.time_ns() // 1_000_000,
    )


def publish_ack(client: aiomqtt.Client, prefix: str, node: str, epoch: str, seq: int) -> bool:
    """Publish ``node``'s acknowledgment (retained, QoS 1) without waiting; return whether paho queued it."""
    info = client._client.publish(topic(node, Channel.ACK, prefix), ack_payload(node, epoch, seq), qos=1, retain=True)
    if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
        log.warning("%s: acknowledgment up to seq %d not sent (%s)", node, seq, info.rc)
        return False
    return True
