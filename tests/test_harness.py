"""The server harness itself: Mosquitto keeps a slow subscriber's QoS 1 backlog, data survive restarts."""

from __future__ import annotations

import socket
import threading
import urllib.request

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.harness import HarnessError, InfluxServer, MosquittoServer, free_port

FLOOD = 3_000  # three times Mosquitto's default max_queued_messages (1000)


def _client(server: MosquittoServer, client_id: str, *, clean: bool) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    c.connect(server.host, server.port)
    return c


def test_offline_qos1_subscriber_gets_the_whole_backlog_across_a_restart(mosquitto_fresh: MosquittoServer) -> None:
    received: list[bytes] = []
    done = threading.Event()

    subscribed = threading.Event()
    sub = _client(mosquitto_fresh, "slow-sub", clean=False)
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.loop_start()
    sub.subscribe("flood/#", qos=1)
    assert subscribed.wait(timeout=10)
    sub.disconnect()
    sub.loop_stop()

    pub = _client(mosquitto_fresh, "pub", clean=True)
    pub.loop_start()
    infos = [pub.publish("flood/x", str(i).encode(), qos=1) for i in range(FLOOD)]
    for info in infos:
        info.wait_for_publish(timeout=10)
    pub.loop_stop()
    pub.disconnect()

    mosquitto_fresh.restart()  # the queued backlog lives in the persistence file meanwhile

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        received.append(bytes(msg.payload))
        if len(received) == FLOOD:
            done.set()

    sub = _client(mosquitto_fresh, "slow-sub", clean=False)
    sub.on_message = on_message
    sub.loop_start()
    try:
        assert done.wait(timeout=30), f"got {len(received)} of {FLOOD}; broker log:\n{mosquitto_fresh.log()}"
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert sorted(int(p) for p in received) == list(range(FLOOD))


def test_influx_answers_ping(influx: InfluxServer) -> None:
    with urllib.request.urlopen(f"{influx.url}/ping", timeout=5) as resp:
        assert resp.status == 204


def test_missing_binary_names_the_install_command() -> None:
    with pytest.raises(HarnessError, match=r"python3 scripts/test\.py"):
        MosquittoServer(binary="/nonexistent/mosquitto-citysense")
    with pytest.raises(HarnessError, match=r"python3 scripts/test\.py"):
        InfluxServer(binary="/nonexistent/influxd-citysense")


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
