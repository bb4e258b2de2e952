"""Turn the hub's incoming PUBLISH packets into plain tuples, without paho's and aiomqtt's per-message objects.

For every message paho builds an ``MQTTMessage`` (with a lock and a condition
for publish tracking), formats a debug log line, runs its topic-filter
callback dispatch, and aiomqtt then wraps it again in a ``Message`` with a
validated ``Topic``. Measured on the ingest benchmark's messages, receiving
and acknowledging cost 20 µs of CPU per message, about 2 µs per reading:
the largest single cost of ingest.

:func:`fast_publish` replaces, on one client, paho's packet dispatch
(``_packet_handle``, called once a whole packet is read) with one that parses
a PUBLISH of QoS 0 or 1 on MQTT 3.1.1 itself (fixed header flags, topic,
packet id, payload; MQTT 3.1.1 §3.3) and puts an :class:`Incoming` straight
into aiomqtt's message queue, in arrival order with everything else. Anything
else goes to paho as before: other packet types, QoS 2 (which paho must track),
MQTT 5 (properties), an empty or non-UTF-8 topic (paho refuses those).
With manual acknowledgement (which the hub sets) paho does nothing more for a
QoS 0 or 1 PUBLISH, so nothing is skipped but the objects and the logging.

Consumers of the queue then see :class:`Incoming` or, for what paho handled,
``aiomqtt.Message``; :func:`incoming` gives both as :class:`Incoming`.

Relies on paho-mqtt 2.2 / aiomqtt 2.5 private parts (``_packet_handle``,
``_in_packet``, ``_protocol``, ``_queue``; both pinned in ``pyproject.toml``).
``tests/hub/test_fastpublish.py`` checks it against a real broker.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import aiomqtt
from paho.mqtt.client import MQTTv31, MQTTv311
from paho.mqtt.enums import MQTTErrorCode

from hub.ingest.readahead import ReadAhead

PUBLISH = 0x30


class Incoming(NamedTuple):
    """One received message: what the consumer needs of it."""

    topic: str
    payload: bytes
    qos: int
    mid: int


def incoming(m: Incoming | aiomqtt.Message) -> Incoming:
    """The message as an :class:`Incoming`, whichever path parsed it."""
    if isinstance(m, Incoming):
        return m
    payload = m.payload if isinstance(m.payload, bytes) else str(m.payload).encode()
    return Incoming(m.topic.value, payload, m.qos, m.mid)


def parse_publish(command: int, body: bytes | bytearray) -> Incoming | None:
    """A PUBLISH of QoS 0 or 1 (MQTT 3.1.x) from its first byte and body; ``None`` for anything else or malformed."""
    if command & 0xF0 != PUBLISH or command & 0x06 not in (0x00, 0x02):
        return None
    end = 2 + ((body[0] << 8) | body[1]) if len(body) >= 2 else 0
    qos1 = command & 0x02
    if end <= 2 or len(body) < end + (2 if qos1 else 0):
        return None  # empty topic or short packet: paho says how it is malformed
    try:
        topic = body[2:end].decode()
    except UnicodeDecodeError:
        return None
    if qos1:
        return Incoming(topic, bytes(body[end + 2 :]), 1, (body[end] << 8) | body[end + 1])
    return Incoming(topic, bytes(body[end:]), 0, 0)


def fast_publish(client: aiomqtt.Client) -> bool:
    """Parse the client's QoS 0/1 PUBLISH packets into :class:`Incoming`; return whether it could (MQTT 3.1.x)."""
    paho = client._client  # aiomqtt exposes no hook for this
    if paho._protocol not in (MQTTv31, MQTTv311):
        return False
    dispatch, read = paho._packet_handle, paho._packet_read
    put = client._queue.put_nowait
    ok = MQTTErrorCode.MQTT_ERR_SUCCESS

    def packet_handle() -> MQTTErrorCode:
        """paho's dispatch of a packet its own reader has read."""
        packet = paho._in_packet
        message = parse_publish(packet["command"], packet["packet"])
        if message is None:
            return dispatch()
        put(message)  # type: ignore[arg-type]
        return ok

    def packet_read() -> MQTTErrorCode:
        """Every whole packet in the read-ahead buffer at once; paho's reader for the rest."""
        sock: object = paho._sock
        if not isinstance(sock, ReadAhead) or paho._in_packet["command"] != 0:
            return read()  # no read-ahead, or paho is in the middle of a packet
        taken = False
        for command, body in sock.whole_packets():
            taken = True
            message = parse_publish(command, body)
            if message is not None:
                put(message)  # type: ignore[arg-type]
                continue
            # Anything else as paho's reader leaves a whole packet, then paho's own handling and reset.
            packet = paho._in_packet
            packet["command"], packet["have_remaining"], packet["to_process"] = command, 1, 0
            packet["remaining_length"], packet["packet"] = len(body), bytearray(body)
            rc = read()
            if rc != ok:
                return rc
        if not taken:
            return read()  # the buffer is empty or holds part of a packet: paho reads on
        with paho._msgtime_mutex:
            paho._last_bytes_received = time.monotonic()  # as paho's reader does (keepalive)
        return ok

    paho._packet_handle = packet_handle  # type: ignore[method-assign]
    paho._packet_read = packet_read  # type: ignore[method-assign]
    return True
