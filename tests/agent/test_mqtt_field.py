"""MQTT sensors in the field: real-format payloads through a real Mosquitto; a bad message never stops anything.

Each case is published to the broker and must come out of the source as the right readings, or be counted
under its reason; the source goes on to the next message. The samples are in edge_agent/drivers/mqtt/samples/.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from citysense.contract import Reading, TelemetryBatch, decode
from citysense.errors import ConfigError
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.app import Agent
from edge_agent.drivers.mqtt.model import Mapping, MqttSource, load_mapping
from edge_agent.drivers.mqtt.source import MqttSensorSource
from tests.agent.sparkplug_encode import metric, payload
from tests.agent.test_mqtt_mappings import SAMPLES, ListSink
from tests.harness import MosquittoServer
from tests.harness.tasks import running

SHIPPED = ("tasmota", "tasmota_lwt", "zigbee2mqtt", "zigbee2mqtt_availability", "ttn_v3", "sparkplug_b")
# A site's own mapping whose template names a third topic level: 'sensors/x' has only two (IndexError before).
BY_LEVEL = Mapping.model_validate(
    {"name": "by_level", "topic": "sensors/#", "device": "{t[2]}", "metrics": [{"metric": "level", "path": "v"}]}
)
TEXT_SWITCH = Mapping.model_validate(
    {
        "name": "tasmota_power",
        "topic": "stat/+/POWER",
        "format": "text",
        "metrics": [{"metric": "relay", "path": "$", "values": {"ON": True, "OFF": False}}],
    }
)
NUMERIC = Mapping.model_validate(
    {"name": "numeric", "topic": "num/+", "metrics": [{"metric": "level", "path": "level", "unit": "m"}]}
)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sparkplug_cases() -> list[tuple[str, bytes]]:
    node = "spBv1.0/gz/%s/rtu9"
    birth = payload(
        1716213791000,
        [
            metric("bdSeq", datatype=8, value=4),
            metric("Node Control/Rebirth", alias=1, datatype=11, value=False),
            metric("Voltage", alias=2, datatype=9, value=229.8, unit="V"),
        ],
    )
    data = payload(1716213792000, [metric(alias=2, datatype=9, value=231.4)])
    return [
        ("spBv1.0/STATE/scada-host", sample("sparkplug_state.json")),  # a host's STATE: ignored, not bad_topic
        (node % "NBIRTH", birth),
        (node % "NDATA", data),
        (node % "NDEATH", payload(1716213793000, [metric("bdSeq", datatype=8, value=3)])),  # an old session's will
        (node % "NDATA", data),
        (node % "NDEATH", payload(1716213794000, [metric("bdSeq", datatype=8, value=4)])),  # this session's
    ]


CASES: list[tuple[str, bytes]] = [
    ("sensors/x", b'{"v": 1}'),  # template asks for t[2]: bad_topic, counted
    ("sensors/a/well-3", b'{"v": 2.5}'),  # the next message of the same mapping is mapped
    ("tele/pole-7/SENSOR", sample("tasmota_sensor.json")),
    ("tele/pole-7/LWT", sample("tasmota_lwt_online.txt")),
    ("tele/pole-8/LWT", sample("tasmota_lwt_offline.txt")),
    ("tele/pole-9/LWT", b"Rebooting"),  # neither Online nor Offline: bad_availability
    ("stat/pole-7/POWER", b"ON"),
    ("zigbee2mqtt/bridge/state", b'{"state":"online"}'),  # not a device
    ("zigbee2mqtt/garden/soil-1", sample("zigbee2mqtt_soil_strings.json")),  # '/' in the friendly name
    ("zigbee2mqtt/garden/soil-1/set", b'{"state":"ON"}'),  # a command to the device, not state
    ("zigbee2mqtt/garden/soil-1/availability", sample("zigbee2mqtt_availability_offline.json")),
    ("zigbee2mqtt/ws-1/availability", b"online"),  # zigbee2mqtt 1.x legacy text payload
    ("zigbee2mqtt/ws-1", sample("zigbee2mqtt_weather.json")),
    ("v3/gz-water@ttn/devices/rain-gauge-09/up", sample("ttn_v3_uplink_rainfall.json")),
    ("num/gauge-1", b'{"level": "1.25"}'),  # a number as a string
    ("num/gauge-2", b'{"level": "n/a"}'),  # not a number: decode_error, no value
    ("num/gauge-3", b'{"level": "1_000"}'),  # Python's float() would take it; a device never means it
    (
        "v3/gz-water@ttn/devices/rain-gauge-10/up",
        b'{"end_device_ids": {"device_id": "rain-gauge-10"}, '
        b'"received_at": "3024-05-20T06:13:11Z", "uplink_message": {"decoded_payload": {"rainfall": 1}}}',
    ),  # year 3024
    *sparkplug_cases(),
]


def by_device(readings: list[Reading]) -> dict[str, dict[str, tuple[Any, str, str]]]:
    out: dict[str, dict[str, tuple[Any, str, str]]] = {}
    for r in readings:
        out.setdefault(r.device, {})[r.metric] = (r.value, r.unit, r.quality)
    return out


async def test_every_field_case_through_a_real_broker(mosquitto: MosquittoServer) -> None:
    sink = ListSink()
    mappings = [BY_LEVEL, TEXT_SWITCH, NUMERIC, *(load_mapping(n) for n in SHIPPED)]
    src = MqttSensorSource(MqttSource(id="field", url=mosquitto.url), mappings, sink)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(src.run(), name="test:mqtt-source")
        await asyncio.wait_for(src.subscribed.wait(), 10)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-field-pub") as pub:
            for topic, data in CASES:
                await pub.publish(topic, data, qos=1)
            await pub.publish("num/last", b'{"level": 0}', qos=1)  # published last: everything before has arrived
        async with asyncio.timeout(10):
            while "last" not in {r.device for r in sink.readings}:
                sink.arrived.clear()
                await sink.arrived.wait()
        assert not task.done()  # the source survived every case
        await cancel_and_wait([task], grace_s=STOP_GRACE_S)

    got = by_device(sink.readings)
    assert src.malformed == {"bad_topic": 1, "bad_availability": 1, "ndeath_old_bdseq": 1, "bad_value": 1}
    assert got["well-3"] == {"level": (2.5, "", "good")}
    assert len(got["pole-7"]) == 10 + 2  # the SENSOR values, online (LWT) and relay (POWER)
    assert got["pole-7"]["online"] == (True, "", "good")
    assert got["pole-7"]["relay"] == (True, "", "good")
    assert got["pole-8"] == {"online": (False, "", "good")}

    soil = got["garden_soil-1"]  # zigbee2mqtt friendly name 'garden/soil-1'
    assert soil["battery"] == (100.0, "%", "good")  # "100.00" became a number
    assert soil["humidity"] == (61.5, "%", "good")
    assert soil["soil_moisture"] == (38, "%", "good")
    assert "battery_state" not in soil and "action" not in soil  # text and null are not values
    assert soil["online"] == (False, "", "good")
    assert "garden_soil-1_set" not in got and "bridge_state" not in got
    assert got["ws-1"]["online"] == (True, "", "good")
    assert got["ws-1"]["temperature"] == (27.93, "°C", "good")
    health = {h.device: h.state for h in src.health()}
    assert health == {"pole-7": "ok", "pole-8": "failing", "garden_soil-1": "failing", "ws-1": "ok"}

    rain = got["rain-gauge-09"]
    assert rain["rainfall"] == (0.4, "mm", "good")
    assert rain["battery"] == (3.58, "V", "good")
    assert rain["rssi"] == (-101, "dBm", "good")

    assert got["gauge-1"] == {"level": (1.25, "m", "good")}
    assert got["gauge-2"] == {"level": (None, "m", "decode_error")}
    assert got["gauge-3"] == {"level": (None, "m", "decode_error")}
    assert not [r for r in sink.readings if isinstance(r.value, str) and r.device.startswith("gauge")]

    rtu9 = [r for r in sink.readings if r.device == "rtu9"]
    assert {r.metric for r in rtu9} == {"voltage"}  # no bd_seq, no node_control_rebirth
    assert [(r.value, r.unit, r.quality) for r in rtu9] == [
        (229.8, "V", "good"),  # float32 229.8000030517578 rounded; unit from the BIRTH's engUnit property
        (231.4, "V", "good"),
        (231.4, "V", "good"),  # the NDEATH with the old bdSeq did not make it stale
        (None, "", "stale"),  # the matching NDEATH did
    ]


def test_numbers_bools_and_strings_by_metric_type() -> None:
    mapping = Mapping.model_validate(
        {
            "name": "typed",
            "topic": "t/+",
            "metrics": [
                {"metric": "a", "path": "a"},
                {"metric": "b", "path": "b", "type": "bool"},
                {"metric": "c", "path": "c", "type": "string"},
                {"metric": "d", "path": "d"},
                {"metric": "e", "path": "e", "scale": 0.1},
            ],
        }
    )
    src = MqttSensorSource(MqttSource(id="s"), [mapping], ListSink())
    got = by_device(src.map("t/x", b'{"a": true, "b": "yes", "c": "idle", "d": {"x": 1}, "e": "-12"}', 0))["x"]
    assert got == {
        "a": (True, "", "good"),
        "b": (None, "", "decode_error"),
        "c": ("idle", "", "good"),
        "d": (None, "", "decode_error"),
        "e": (-1.2, "", "good"),
    }


async def test_a_node_with_only_mqtt_sensors_runs(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    from citysense.contract import Channel, topic
    from edge_agent.config import load_agent_config

    path = tmp_path / "agent.yaml"
    path.write_text(
        f"node_id: N9\nhub: {{url: '{mosquitto.url}'}}\nuplink: {{batch_max_wait_s: 0.2}}\n"
        f"mqtt:\n  - {{id: n9-local, url: '{mosquitto.url}', mapping_files: [tasmota, tasmota_lwt]}}\n"
    )
    config, profiles = load_agent_config(path)
    assert config.devices == [] and config.connections == []  # no bus at all: accepted
    agent = Agent(config, profiles, tmp_path / "state", path)
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-n9-hub") as hub:
        await hub.subscribe(topic("N9", Channel.TELEMETRY), qos=1)
        async with running(agent.run(), "test:agent"):
            await asyncio.wait_for(agent.mqtt[0].subscribed.wait(), 10)
            async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-n9-sensor") as pub:
                await pub.publish("tele/pole-9/LWT", sample("tasmota_lwt_online.txt"), qos=1, retain=False)
            async with asyncio.timeout(10):
                message = await anext(aiter(hub.messages))
            assert isinstance(message.payload, bytes)
            got = decode(TelemetryBatch, message.payload).readings
            assert [(r.device, r.metric, r.value) for r in got] == [("pole-9", "online", True)]
            assert [(h.device, h.state) for h in agent.device_health()] == [("pole-9", "ok")]
    empty = tmp_path / "empty.yaml"
    empty.write_text("node_id: N9\n")
    with pytest.raises(ConfigError, match="at least one device"):
        load_agent_config(empty)


async def test_bad_sensor_messages_never_stop_the_agent_or_its_modbus_polling(
    tmp_path: Path, mosquitto_fresh: MosquittoServer
) -> None:
    import yaml

    from citysense.contract import Channel, subscription
    from edge_agent.config import load_agent_config
    from tests.agent.support import agent_config, counter_server, write_site

    mosquitto = mosquitto_fresh  # a broker of its own: nothing retained or queued by other tests reaches this agent
    async with counter_server() as modbus:
        write_site(tmp_path)
        path = agent_config(tmp_path, mosquitto.url, modbus.port)
        cfg = yaml.safe_load(path.read_text())
        cfg["node_id"] = "NMQ1"
        cfg["mqtt"] = [
            {
                "id": "nmq1-local",
                "url": mosquitto.url,
                "mappings": [BY_LEVEL.model_dump(mode="json", exclude_defaults=True)],
                "mapping_files": ["tasmota"],
            }
        ]
        path.write_text(yaml.safe_dump(cfg))
        config, profiles = load_agent_config(path)
        agent = Agent(config, profiles, tmp_path / "state", path)
        seen: list[Reading] = []
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-hub-side") as hub:
            await hub.subscribe(subscription(Channel.TELEMETRY).replace("+", "NMQ1", 1), qos=1)
            async with running(agent.run(), "test:agent") as task:
                await _feed_and_watch(agent, task, hub, mosquitto, seen)
    assert {r.metric for r in seen if r.device == "p1"} >= {"power", "voltage", "temperature"}


async def _feed_and_watch(
    agent: Agent, task: asyncio.Task[None], hub: aiomqtt.Client, mosquitto: MosquittoServer, seen: list[Reading]
) -> None:
    await asyncio.wait_for(agent.mqtt[0].subscribed.wait(), 10)
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-sensors") as pub:
        for _ in range(3):
            await pub.publish("sensors/x", b'{"v": 1}', qos=1)  # IndexError in the template before
            await pub.publish("tele/p1/SENSOR", b"\xff\xfe", qos=1)  # not UTF-8
        await pub.publish("tele/p1/SENSOR", sample("tasmota_sensor.json"), qos=1)
    async with asyncio.timeout(30):
        async for message in hub.messages:
            assert isinstance(message.payload, bytes)
            seen.extend(decode(TelemetryBatch, message.payload).readings)
            counts = [r for r in seen if r.device == "c1" and r.metric == "count" and r.quality == "good"]
            if len(counts) >= 3 and any(r.device == "p1" for r in seen):
                break
    assert not task.done()
    assert agent.malformed() == {"bad_topic": 3, "bad_json": 3}
    assert agent.uplink.health().malformed == {"bad_topic": 3, "bad_json": 3}


async def test_messages_sent_while_the_source_is_away_arrive_when_it_returns(mosquitto: MosquittoServer) -> None:
    config = MqttSource(id="away", url=mosquitto.url, client_id="test-away-source")

    async def run_until(src: MqttSensorSource, sink: ListSink, n: int) -> None:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(src.run(), name="test:mqtt-source")
            await asyncio.wait_for(src.subscribed.wait(), 10)
            async with asyncio.timeout(10):
                while len(sink.readings) < n:
                    sink.arrived.clear()
                    await sink.arrived.wait()
            await cancel_and_wait([task], grace_s=STOP_GRACE_S)

    first = ListSink()
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-away-pub") as pub:
        src = MqttSensorSource(config, [NUMERIC], first)
        await pub.publish("num/before", b'{"level": 1}', qos=1)
        await asyncio.sleep(0.2)  # not subscribed yet: lost, as MQTT says (no session)
        await run_until(src, first, 0)  # the first connection creates the session
        for i in range(3):
            await pub.publish(f"num/while-away-{i}", b'{"level": 2}', qos=1)  # the agent is restarting
    second = ListSink()
    await run_until(MqttSensorSource(config, [NUMERIC], second), second, 3)
    assert sorted(r.device for r in second.readings) == ["while-away-0", "while-away-1", "while-away-2"]


class FailingOnceSink(ListSink):
    """A buffer that refuses its first write (a full disk, say)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def put(self, readings: Any) -> None:
        if not self.failed:
            self.failed = True
            raise OSError("database or disk is full")
        await super().put(readings)


async def test_a_message_the_buffer_did_not_take_is_delivered_again(mosquitto: MosquittoServer) -> None:
    sink = FailingOnceSink()
    src = MqttSensorSource(MqttSource(id="retry", url=mosquitto.url, client_id="test-retry-source"), [NUMERIC], sink)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(src.run(), name="test:mqtt-source")
        await asyncio.wait_for(src.subscribed.wait(), 10)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-retry-pub") as pub:
            await pub.publish("num/gauge-7", b'{"level": 3.25}', qos=1)
        async with asyncio.timeout(15):
            while not sink.readings:
                sink.arrived.clear()
                await sink.arrived.wait()
        await cancel_and_wait([task], grace_s=STOP_GRACE_S)
    assert sink.failed  # the first delivery was not acknowledged: the broker sent it again after the reconnect
    assert [(r.device, r.value) for r in sink.readings] == [("gauge-7", 3.25)]
