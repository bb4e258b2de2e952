"""Each shipped MQTT mapping turns a real-format sample payload into the expected readings; bad ones are counted."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from citysense.contract import Reading
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.drivers.mqtt.model import MqttSource, load_mapping
from edge_agent.drivers.mqtt.source import MqttSensorSource
from tests.agent.sparkplug_encode import metric, payload
from tests.harness import MosquittoServer

SAMPLES = Path(__file__).resolve().parents[2] / "edge_agent" / "drivers" / "mqtt" / "samples"
NOW = 1_716_213_800_000


class ListSink:
    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.arrived = asyncio.Event()

    async def put(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)
        self.arrived.set()


def source(*names: str, sink: ListSink | None = None, url: str = "mqtt://127.0.0.1:1883") -> MqttSensorSource:
    # A client id of its own: sources keep persistent sessions, which must not carry over between tests.
    config = MqttSource(id=f"local-{'-'.join(names)}"[:64], url=url)
    return MqttSensorSource(config, [load_mapping(n) for n in names], sink or ListSink())


def table(readings: list[Reading]) -> dict[tuple[str, str], tuple[Any, str, int, str]]:
    return {(r.device, r.metric): (r.value, r.unit, r.ts_ms, r.quality) for r in readings}


def test_tasmota_sensor() -> None:
    got = table(source("tasmota").map("tele/pole-0012/SENSOR", (SAMPLES / "tasmota_sensor.json").read_bytes(), NOW))
    ts = 1716184991000  # 2024-05-20T14:03:11 at +08:00
    assert got[("pole-0012", "power")] == (45, "W", ts, "good")
    assert got[("pole-0012", "energy_total")] == (123.456, "kWh", ts, "good")
    assert got[("pole-0012", "temperature")] == (28.4, "°C", ts, "good")
    assert got[("pole-0012", "humidity")][0] == 71.2
    assert len(got) == 10


def test_shelly_gen2_status_and_rpc() -> None:
    src = source("shelly_gen2", "shelly_gen2_rpc")
    status = table(
        src.map(
            "shellyplus1pm-a8032ab12345/status/switch:0", (SAMPLES / "shelly_status_switch0.json").read_bytes(), NOW
        )
    )
    dev = "shellyplus1pm-a8032ab12345"
    assert status[(dev, "output")] == (True, "", NOW, "good")
    assert status[(dev, "energy_total")] == (1523.817, "Wh", NOW, "good")
    assert status[(dev, "temperature")][0] == 41.8
    rpc = table(src.map(f"{dev}/events/rpc", (SAMPLES / "shelly_events_rpc.json").read_bytes(), NOW))
    assert rpc == {
        (dev, "power"): (12.4, "W", 1716213791520, "good"),
        (dev, "current"): (0.081, "A", 1716213791520, "good"),
    }


def test_zigbee2mqtt_device() -> None:
    got = table(
        source("zigbee2mqtt").map(
            "zigbee2mqtt/village-12-weather", (SAMPLES / "zigbee2mqtt_weather.json").read_bytes(), NOW
        )
    )
    assert got[("village-12-weather", "temperature")] == (27.93, "°C", NOW, "good")
    assert got[("village-12-weather", "pressure")] == (1006.2, "hPa", NOW, "good")
    assert got[("village-12-weather", "battery")][0] == 97
    assert ("village-12-weather", "update_state") not in got  # null is not a value


def test_ttn_v3_uplink() -> None:
    got = table(
        source("ttn_v3").map(
            "v3/gz-water@ttn/devices/rain-gauge-07/up", (SAMPLES / "ttn_v3_uplink.json").read_bytes(), NOW
        )
    )
    ts = 1716184991483  # 06:03:11.482917143Z, rounded to the millisecond
    assert got[("rain-gauge-07", "rainfall_mm")] == (0.2, "mm", ts, "good")
    assert got[("rain-gauge-07", "water_level_m")] == (1.234, "m", ts, "good")
    assert got[("rain-gauge-07", "rssi")] == (-97, "dBm", ts, "good")
    assert got[("rain-gauge-07", "snr")][0] == 7.25


def test_sparkplug_birth_data_aliases_and_death() -> None:
    src = source("sparkplug_b")
    nbirth = table(src.map("spBv1.0/gz/NBIRTH/rtu7", (SAMPLES / "sparkplug_nbirth.bin").read_bytes(), NOW))
    assert nbirth[("rtu7", "properties_hardware")][0] == "GZ-RTU-7"
    assert set(nbirth) == {("rtu7", "properties_hardware")}  # bdSeq and Node Control/Rebirth are not telemetry
    dbirth = table(src.map("spBv1.0/gz/DBIRTH/rtu7/pump1", (SAMPLES / "sparkplug_dbirth.bin").read_bytes(), NOW))
    assert dbirth[("rtu7.pump1", "level")] == (1.25, "", 1716213791010, "good")
    assert dbirth[("rtu7.pump1", "inlet_temp")][0] == -5  # Int16 two's complement in int_value
    assert dbirth[("rtu7.pump1", "flow_total")][0] == -7  # Int64 in long_value
    ddata = table(src.map("spBv1.0/gz/DDATA/rtu7/pump1", (SAMPLES / "sparkplug_ddata.bin").read_bytes(), NOW))
    assert ddata == {  # alias-only metrics resolved through the DBIRTH
        ("rtu7.pump1", "level"): (1.5, "", 1716213792000, "good"),
        ("rtu7.pump1", "inlet_temp"): (-7, "", 1716213791990, "good"),
        ("rtu7.pump1", "pump_running"): (False, "", 1716213792000, "good"),
    }
    death = src.map("spBv1.0/gz/NDEATH/rtu7", (SAMPLES / "sparkplug_ndeath.bin").read_bytes(), NOW)
    assert {(r.device, r.metric) for r in death} >= {("rtu7.pump1", "level"), ("rtu7", "properties_hardware")}
    assert all(r.quality == "stale" and r.value is None for r in death)
    # After the death a new NBIRTH resets the aliases: data with an unannounced alias is malformed, counted.
    src.map("spBv1.0/gz/NBIRTH/rtu7", (SAMPLES / "sparkplug_nbirth.bin").read_bytes(), NOW)
    assert src.map("spBv1.0/gz/DDATA/rtu7/pump1", payload(NOW, [metric(alias=10, datatype=9, value=2.0)]), NOW) == []
    assert src.malformed["unknown_alias"] == 1


@pytest.mark.parametrize(
    ("mapping", "topic", "data", "reason"),
    [
        ("tasmota", "tele/p1/SENSOR", b"{not json", "bad_json"),
        ("tasmota", "tele/p1/SENSOR", b"[1, 2]", "not_an_object"),
        ("tasmota", "tele/p1/SENSOR", b'{"Time": "yesterday", "ENERGY": {"Power": 1}}', "bad_timestamp"),
        ("tasmota", "tele/p1/SENSOR", b'{"Time": "2024-05-20T14:03:11", "Wifi": {"RSSI": 60}}', "no_values"),
        ("ttn_v3", "v3/a@t/devices/x/up", b'{"uplink_message": {"decoded_payload": {"a": 1}}}', "bad_device_id"),
        ("sparkplug_b", "spBv1.0/g/NDATA/n", b"\x0a\xff\xff", "bad_protobuf"),
        ("sparkplug_b", "spBv1.0/g/NDATA", b"", "bad_topic"),
    ],
)
def test_bad_payloads_are_counted_with_a_reason_never_fatal(mapping: str, topic: str, data: bytes, reason: str) -> None:
    src = source(mapping)
    assert src.map(topic, data, NOW) == []
    assert src.malformed == {reason: 1}


async def test_source_maps_messages_from_a_real_broker(mosquitto: MosquittoServer) -> None:
    sink = ListSink()
    src = source("tasmota", "zigbee2mqtt", sink=sink, url=mosquitto.url)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(src.run())
        await asyncio.wait_for(src.subscribed.wait(), 10)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-sensor-pub") as pub:
            await pub.publish("tele/pole-7/SENSOR", b"garbage", qos=1)
            await pub.publish("tele/pole-7/SENSOR", (SAMPLES / "tasmota_sensor.json").read_bytes(), qos=1)
            await pub.publish("zigbee2mqtt/bridge/state", b'{"state": "online"}', qos=1)  # not a device topic
            await pub.publish("zigbee2mqtt/ws-1", (SAMPLES / "zigbee2mqtt_weather.json").read_bytes(), qos=1)
        async with asyncio.timeout(10):
            while {r.device for r in sink.readings} != {"pole-7", "ws-1"}:
                sink.arrived.clear()
                await sink.arrived.wait()
        await cancel_and_wait([task], grace_s=STOP_GRACE_S)
    assert src.malformed == {"bad_json": 1}
    assert len([r for r in sink.readings if r.device == "pole-7"]) == 10
