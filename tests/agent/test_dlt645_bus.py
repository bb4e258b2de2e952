"""DL/T 645 meters against the simulator: an RS-485 line on a socat pty pair, and a serial server over TCP.

The simulated meters answer with the standard's frames (wake-up bytes, the DI echoed, BCD values, abnormal
replies with the error byte); the agent's values must be exactly the simulator's at its frozen clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest

from citysense.agentconfig import Connection, MeterConfig
from citysense.contract import Reading
from citysense.dlt645 import time_sync_request
from citysense.profiles.dlt645 import MeterProfile
from citysense.profiles.loader import default_profile_dir, load_meter_profile
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.drivers.dlt645.link import MeterLink
from edge_agent.drivers.dlt645.meters import read_address
from edge_agent.drivers.dlt645.poller import MeterPoller
from simulator.dlt645 import MeterBus, SimMeter, meter_value
from tests.agent.test_rtu_bus import pty_pair  # noqa: F401 - the fixture
from tests.harness import MosquittoServer, free_port

T = 1_716_213_791.0  # the simulator's frozen clock: 2024-05-20 22:03 CST, lamps on
SINGLE = load_meter_profile(default_profile_dir() / "chint_ddsu666_dlt645.yaml")
THREE = load_meter_profile(default_profile_dir() / "chint_dtsu666_dlt645.yaml")
OLD = MeterProfile.model_validate(
    {
        "id": "dds_1997",
        "protocol": "dlt645",
        "edition": "1997",
        "model": "DDS-type single-phase meter (DL/T 645-1997)",
        "manufacturer": "test",
        "source": "DL/T 645-1997 identifiers B611 (voltage XXX V), B621 (current XX.XX A), 9010 (energy)",
        "category": "energy_meter",
        "points": [
            {"metric": "voltage", "di": "B611", "format": "XXX", "unit": "V"},
            {"metric": "current", "di": "B621", "format": "XX.XX", "unit": "A"},
            {"metric": "energy_import", "di": "9010", "format": "XXXXXX.XX", "unit": "kWh"},
            {"metric": "reactive_energy", "di": "9110", "format": "XXXXXX.XX", "unit": "kvarh"},  # it does not have
        ],
    }
)


class ListSink:
    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def put(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)


def expected(profile: MeterProfile, metric: str, seed: int = 0) -> float:
    p = profile.point(metric)
    return round(round(meter_value(metric, T, seed, 3.0), p.decimals) * p.scale, 9)


@contextlib.asynccontextmanager
async def serving(coro: object) -> AsyncIterator[None]:
    task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
    try:
        await asyncio.sleep(0.2)
        yield
    finally:
        await cancel_and_wait([task], grace_s=STOP_GRACE_S)
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_meters_on_a_shared_rs485_line_with_a_dead_one(pty_pair: tuple[str, str]) -> None:  # noqa: F811
    sim_end, agent_end = pty_pair
    single, three, dead = (
        SimMeter("000000000011", SINGLE),
        SimMeter("000000000012", THREE),
        SimMeter("000000000013", SINGLE),
    )
    single.refuse.add("00010400")  # this meter has no tariff 4 register: an abnormal reply
    bus = MeterBus([single, three, dead], clock=lambda: T)
    conn = Connection(id="rs485", type="dlt645_serial", serial_port=agent_end, baudrate=9600, timeout_s=0.3)
    assert (conn.parity, conn.baudrate) == ("E", 9600)  # 8E1 is the DL/T 645 default; the rate is the site's
    link = MeterLink(conn)
    sink = ListSink()
    pollers = [
        MeterPoller(MeterConfig(id=f"m{m.address[-2:]}", profile=m.profile.id, connection="rs485",
                                address=m.address.lstrip("0"), poll_interval_s=1.0), m.profile, link, sink)
        for m in (single, three, dead)
    ]  # fmt: skip
    async with serving(bus.serve_serial(sim_end, baudrate=9600)):
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(7), asyncio.TaskGroup() as tg:
                for p in pollers:
                    tg.create_task(p.run(), name=f"test:meter:{p.device_id}")
                await asyncio.sleep(1.5)
                dead.mute = True  # its supply fuse blew: the line goes on without it
                asked_before = dead.requests
        await link.close()

    def last(device: str, metric: str) -> Reading:
        return [r for r in sink.readings if r.device == device and r.metric == metric][-1]

    for metric in ("voltage", "current", "active_power", "power_factor", "frequency", "energy_import"):
        r = last("m11", metric)
        assert (r.quality, r.value) == ("good", expected(SINGLE, metric)), metric
    assert last("m11", "active_power").unit == "W" and last("m11", "energy_import").unit == "kWh"
    assert last("m11", "energy_import_tariff4").quality == "device_exception"
    for metric in ("voltage_b", "current_c", "active_power_a", "power_factor", "energy_import_phase_c"):
        assert last("m12", metric).value == expected(THREE, metric), metric
    for device, metric in (("m11", "voltage"), ("m12", "voltage_a")):
        good = [r for r in sink.readings if (r.device, r.metric, r.quality) == (device, metric, "good")]
        assert len(good) >= 5, device  # polled at 1 Hz for 7 s although a meter on the line is dead
    assert pollers[2].health().state == "quarantined"
    assert last("m13", "voltage").quality == "timeout" and last("m13", "voltage").value is None
    assert next(r.quality for r in sink.readings if r.device == "m13") == "good"
    # Silent: one DI asked per poll (not all 13), then quarantined: polled every 2 s, 4 s... over the 5.5 s.
    assert dead.requests - asked_before <= 6


async def test_meter_behind_a_tcp_serial_server_address_read_and_time_sync() -> None:
    meter = SimMeter("202405200001", THREE)
    bus = MeterBus([meter], clock=lambda: T)
    port = free_port()
    started = asyncio.Event()
    async with serving(bus.serve_tcp("127.0.0.1", port, started)):
        await asyncio.wait_for(started.wait(), 5)
        conn = Connection(id="dtu", type="dlt645_tcp", host="127.0.0.1", port=port, timeout_s=1.0)
        assert await read_address(conn) == "202405200001"  # the only meter on the line, asked at AA..AA
        link = MeterLink(conn)
        sink = ListSink()
        cfg = MeterConfig(id="cab", profile=THREE.id, connection="dtu", address="202405200001")
        poller = MeterPoller(cfg, THREE, link, sink)
        readings = {r.metric: r for r in await poller.poll_once()}
        assert readings["voltage_a"].value == expected(THREE, "voltage_a")
        assert readings["energy_import_tariff2"].value == expected(THREE, "energy_import_tariff2")
        assert all(r.quality == "good" for r in readings.values())
        assert poller.health().state == "ok"
        meter.garble.update({"02010100", "02010200"})  # noise on the line corrupts two replies
        readings = {r.metric: r for r in await poller.poll_once()}
        assert (readings["voltage_a"].quality, readings["voltage_a"].value) == ("comm_failure", None)
        assert readings["voltage_b"].quality == "comm_failure"  # a garbled first reply is no silent meter:
        assert readings["voltage_c"].quality == "good"  # the poll goes on, on the same connection
        assert poller.health().state == "failing"
        meter.garble.clear()

        await link.broadcast(time_sync_request(datetime.fromtimestamp(T + 3600)))
        await asyncio.sleep(0.2)
        assert meter.clock_offset_s == pytest.approx(3600, abs=1)
        await link.close()


async def test_1997_meter_and_its_exception_reply() -> None:
    meter = SimMeter("000000000003", OLD)
    bus = MeterBus([meter], clock=lambda: T)
    port = free_port()
    started = asyncio.Event()
    async with serving(bus.serve_tcp("127.0.0.1", port, started)):
        await asyncio.wait_for(started.wait(), 5)
        conn = Connection(id="dtu", type="dlt645_tcp", host="127.0.0.1", port=port, timeout_s=1.0)
        assert await read_address(conn, OLD.edition) == "000000000003"  # 1997: DI C032 at AA..AA
        meter.profile = OLD.model_copy(update={"points": OLD.points[:3]})  # the meter lacks 9110
        link = MeterLink(conn)
        poller = MeterPoller(MeterConfig(id="old", profile="dds_1997", connection="dtu", address="3"), OLD, link,
                             ListSink())  # fmt: skip
        readings = {r.metric: r for r in await poller.poll_once()}
        await link.close()
    assert readings["voltage"].value == expected(OLD, "voltage")
    assert readings["energy_import"].value == expected(OLD, "energy_import")
    assert readings["reactive_energy"].quality == "device_exception"  # C1H with the 1997 error byte
    assert poller.health().state == "failing"


async def test_a_meter_line_that_does_not_exist_is_a_comm_failure(tmp_path: Path) -> None:
    conn = Connection(id="gone", type="dlt645_serial", serial_port=str(tmp_path / "ttyUSB9"))
    poller = MeterPoller(MeterConfig(id="m", profile=SINGLE.id, connection="gone", address="1"), SINGLE,
                         MeterLink(conn), ListSink())  # fmt: skip
    readings = await poller.poll_once()
    assert {r.quality for r in readings} == {"comm_failure"} and len(readings) == len(SINGLE.points)


async def test_the_agent_polls_meters_and_serves_time_sync(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    import aiomqtt
    import yaml

    from citysense.contract import Channel, Command, TelemetryBatch, decode, subscription
    from edge_agent.app import Agent
    from edge_agent.config import load_agent_config

    meter = SimMeter("000000000021", SINGLE)
    port = free_port()
    started = asyncio.Event()
    path = tmp_path / "agent.yaml"
    cfg = {
        "node_id": "NDL1",
        "hub": {"url": mosquitto.url, "connect_timeout_s": 3},
        "connections": [{"id": "dtu", "type": "dlt645_tcp", "host": "127.0.0.1", "port": port, "timeout_s": 0.5}],
        "meters": [{"id": "pole_meter", "profile": SINGLE.id, "connection": "dtu", "address": "21",
                    "poll_interval_s": 1}],
        "uplink": {"batch_max_wait_s": 0.2},
    }  # fmt: skip
    path.write_text(yaml.safe_dump(cfg))
    config, profiles = load_agent_config(path)
    agent = Agent(config, profiles, tmp_path / "state", path)
    seen: list[Reading] = []
    async with (
        serving(MeterBus([meter], clock=lambda: T).serve_tcp("127.0.0.1", port, started)),
        aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-dlt-hub") as hub,
        asyncio.TaskGroup() as tg,
    ):
        await hub.subscribe(subscription(Channel.TELEMETRY).replace("+", "NDL1", 1), qos=1)
        task = tg.create_task(agent.run(), name="test:agent")
        async with asyncio.timeout(15):
            async for message in hub.messages:
                assert isinstance(message.payload, bytes)
                seen.extend(decode(TelemetryBatch, message.payload).readings)
                if len({r.metric for r in seen}) == len(SINGLE.points):
                    break
        assert agent.device_health()[0].device == "pole_meter"
        reply = await agent.uplink.commands(  # type: ignore[misc]
            Command(id="c1", node="NDL1", action="time_sync", expires_ms=2**41)
        )
        assert reply.ok and reply.result == {"lines": ["dtu"]}
        await cancel_and_wait([task], grace_s=STOP_GRACE_S)
    voltage = next(r for r in seen if r.metric == "voltage")
    assert (voltage.device, voltage.value, voltage.unit) == ("pole_meter", expected(SINGLE, "voltage"), "V")
    assert T + meter.clock_offset_s == pytest.approx(time.time(), abs=5)  # the meter now keeps the agent's time


async def test_the_meter_simulator_command_serves_and_stops_on_sigterm() -> None:
    import signal
    import sys

    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator.meters_cli", "--tcp", str(port), "--meter", "21:chint_ddsu666_dlt645",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert b"meter 000000000021 (chint_ddsu666_dlt645, DL/T 645-2007)" in line
        conn = Connection(id="dtu", type="dlt645_tcp", host="127.0.0.1", port=port, timeout_s=2.0)
        assert await read_address(conn) == "000000000021"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_commissioning_reads_a_meter_over_tcp() -> None:
    import sys

    meter = SimMeter("000000000005", SINGLE)
    meter.refuse.add("00010400")
    port = free_port()
    started = asyncio.Event()
    async with serving(MeterBus([meter], clock=lambda: T).serve_tcp("127.0.0.1", port, started)):
        await asyncio.wait_for(started.wait(), 5)
        base = [sys.executable, "-m", "edge_agent.drivers.dlt645", "--host", "127.0.0.1", "--port", str(port)]
        found = await asyncio.create_subprocess_exec(*base, "address", stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(found.communicate(), 30)
        assert (found.returncode, out.decode().strip()) == (0, "000000000005")
        read = await asyncio.create_subprocess_exec(
            *base, "read", "--address", "5", "--profile", SINGLE.id, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(read.communicate(), 30)
    lines = {line.split(":")[0]: line for line in out.decode().splitlines()}
    assert f"voltage={expected(SINGLE, 'voltage')} V" in lines["02010100"]
    assert "no requested data" in lines["00010400"]
    assert read.returncode == 1  # one DI was refused


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"meters": [{"id": "m", "profile": SINGLE.id, "connection": "bus", "address": "1"}]}, "needs a dlt645"),
        ({"meters": [{"id": "m", "profile": "nope", "connection": "line", "address": "1"}]}, "unknown DL/T 645"),
        ({"meters": [{"id": "m", "profile": SINGLE.id, "connection": "line", "address": "1"},
                     {"id": "n", "profile": SINGLE.id, "connection": "line", "address": "000000000001"}]},
         "already 'm'"),
        ({"devices": [{"id": "d", "profile": "chint_ddsu666", "connection": "line", "unit_id": 1}]},
         "list 'd' in meters"),
        ({"meters": [{"id": "m", "profile": SINGLE.id, "connection": "line", "address": "1",
                      "report": {"voltag": {"mode": "on_change"}}}]}, "no metric 'voltag'"),
    ],
)  # fmt: skip
def test_meter_configuration_errors_name_the_key(tmp_path: Path, change: dict[str, object], problem: str) -> None:
    import yaml

    from citysense.errors import ConfigError
    from edge_agent.config import load_agent_config

    cfg: dict[str, object] = {
        "node_id": "N1",
        "connections": [
            {"id": "bus", "type": "modbus_tcp", "host": "127.0.0.1", "port": 502},
            {"id": "line", "type": "dlt645_serial", "serial_port": "/dev/ttyUSB1"},
        ],
        **change,
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=problem):
        load_agent_config(path)


async def test_a_data_block_is_one_request_for_several_points() -> None:
    block = MeterProfile.model_validate(
        {
            "id": "dts_block", "protocol": "dlt645", "model": "three-phase meter, voltage block",
            "manufacturer": "test", "source": "DL/T 645-2007 A.3: 0201FF00 = phase A, B, C voltage", "category": "x",
            "points": [
                {"metric": f"voltage_{ph}", "di": "0201FF00", "format": "XXX.X", "offset_bytes": 2 * i, "unit": "V"}
                for i, ph in enumerate("abc")
            ] + [{"metric": "current_a", "di": "02020100", "format": "XXX.XXX", "signed": True, "unit": "A"}],
        }
    )  # fmt: skip
    meter = SimMeter("000000000031", block)
    port = free_port()
    started = asyncio.Event()
    async with serving(MeterBus([meter], clock=lambda: T).serve_tcp("127.0.0.1", port, started)):
        await asyncio.wait_for(started.wait(), 5)
        link = MeterLink(Connection(id="dtu", type="dlt645_tcp", host="127.0.0.1", port=port))
        poller = MeterPoller(MeterConfig(id="b", profile="dts_block", connection="dtu", address="31"), block, link,
                             ListSink())  # fmt: skip
        readings = {r.metric: r.value for r in await poller.poll_once()}
        await link.close()
    assert meter.requests == 2  # one for the voltage block, one for the current
    assert readings == {metric: expected(block, metric) for metric in readings}
    assert len(readings) == 4
