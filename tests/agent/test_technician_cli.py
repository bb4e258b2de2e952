"""What a technician types on site, run as the real command: one profile checked alone, stray files in the
profile directory, hex addresses, word-order warnings, and a log that says a failure once."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml
from pymodbus.simulator import DataType, SimData, SimDevice

from citysense.profiles.loader import default_profile_dir
from tests.agent.support import modbus_tcp_server
from tests.harness import MosquittoServer, free_port

ROOT = Path(__file__).resolve().parents[2]
VOLTS_CDAB = list(reversed(struct.unpack(">HH", struct.pack(">f", 230.2))))  # low word first: ABCD reads 4.17e-08
METER = """\
id: meter
model: Meter
manufacturer: Test
source: "test: a low-word-first float32 voltage configured as ABCD, the mistake the warning exists for"
category: energy_meter
points:
  - {metric: voltage, table: input, address: 0x331A, type: float32, unit: V, range: [0, 300]}
"""


def meter_device() -> SimDevice:
    """Input registers 331AH-331BH hold 230.2 V low word first."""
    bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
    return SimDevice(1, simdata=(bits, bits, [SimData(0, values=[0], datatype=DataType.REGISTERS)],
                                 [SimData(0x331A, values=VOLTS_CDAB, datatype=DataType.REGISTERS)]))  # fmt: skip


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_one_profile_is_validated_on_its_own(tmp_path: Path) -> None:
    ok = cli("validate", "--profile", str(default_profile_dir() / "epever_tracer_an.yaml"))
    assert ok.returncode == 0, ok.stderr
    assert "OK: profile epever_tracer_an" in ok.stdout and "1 write-only" in ok.stdout
    broken = tmp_path / "meter.yaml"
    broken.write_text(METER.replace("type: float32", "type: float32, bit: 3"))
    bad = cli("validate", "--profile", str(broken))
    assert bad.returncode == 2 and "meter.yaml: points.0: " in bad.stderr and "'bit' picks a bit" in bad.stderr
    kind = cli("validate", "--profile", str(ROOT / "firmware_configs" / "water_gauge.yaml"))
    assert kind.returncode == 2 and "not a device profile" in kind.stderr and "looks like a node kind" in kind.stderr


def test_a_stray_yaml_in_profiles_dir_is_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "meter.yaml").write_text(METER)
    config = {"node_id": "N1", "hub": {"url": "mqtt://127.0.0.1:1883"}, "profiles_dir": "profiles",
              "connections": [{"id": "bus", "type": "modbus_tcp", "host": "127.0.0.1", "port": 1502}],
              "devices": [{"id": "m", "profile": "meter", "connection": "bus", "unit_id": 1}]}  # fmt: skip
    (tmp_path / "profiles" / "agent.yaml").write_text(yaml.safe_dump(config))  # a copy left in the wrong place
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(config))
    out = cli("validate", "--config", str(tmp_path / "agent.yaml"))
    assert out.returncode == 0, out.stderr
    assert "profiles/agent.yaml: not a device profile" in out.stdout and "agent configuration" in out.stdout
    assert "OK: node N1, 1 devices" in out.stdout
    assert "not a device profile" not in out.stderr  # said once, as a note


async def test_probe_takes_a_hex_address_and_warns_of_a_word_order_mistake(tmp_path: Path) -> None:
    (tmp_path / "meter.yaml").write_text(METER)
    device = meter_device()
    async with modbus_tcp_server([device]) as port:
        out = await asyncio.to_thread(cli, "probe", "--host", "127.0.0.1", "--port", str(port), "--table", "input",
                                      "--address", "0x331A", "--count", "0x2", "--profile", "meter",
                                      "--profiles-dir", str(tmp_path))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "13082=0x" in out.stdout  # 0x331A read as protocol address 13082
    [warning] = [line for line in out.stdout.splitlines() if line.startswith("WARNING")]
    assert "configured ABCD reads 4.1738e-08 V" in warning  # inside 0..300 V: passes the range
    assert "CDAB reads 230.2 V" in warning and "word_order: little" in warning
    bad = cli("probe", "--host", "127.0.0.1", "--address", "0xZZ")
    assert bad.returncode == 2 and "not a number" in bad.stderr


async def test_validate_device_reads_it_once_and_warns(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "meter.yaml").write_text(METER)
    device = meter_device()
    async with modbus_tcp_server([device]) as port:
        config = {"node_id": "N1", "hub": {"url": "mqtt://127.0.0.1:1883"}, "profiles_dir": "profiles",
                  "connections": [{"id": "bus", "type": "modbus_tcp", "host": "127.0.0.1", "port": port}],
                  "devices": [{"id": "m", "profile": "meter", "connection": "bus", "unit_id": 1}]}  # fmt: skip
        (tmp_path / "agent.yaml").write_text(yaml.safe_dump(config))
        out = await asyncio.to_thread(cli, "validate", "--config", str(tmp_path / "agent.yaml"), "--device", "m")
    assert out.returncode == 0, out.stderr
    assert "voltage" in out.stdout and "4.1" in out.stdout and "good" in out.stdout  # it does pass as good...
    assert (
        "WARNING voltage: configured ABCD" in out.stdout and "CDAB reads 230.2 V" in out.stdout
    )  # ...but not silently


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(256):  # accept requests, never answer: every read times out
        pass
    writer.close()


async def _garble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(256):  # answer every request with bytes that are not Modbus TCP
            writer.write(bytes(range(7, 47)))
            await writer.drain()
    writer.close()


async def _agent_log(tmp_path: Path, mosquitto: MosquittoServer, device: Handler) -> list[str]:
    """The stderr lines of a real agent polling one device served by ``device`` for six seconds."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "meter.yaml").write_text(METER)
    port = free_port()
    config = {"node_id": "N1", "hub": {"url": mosquitto.url}, "profiles_dir": "profiles",
              "connections": [{"id": "bus", "type": "modbus_tcp", "host": "127.0.0.1", "port": port, "timeout_s": 0.2}],
              "devices": [{"id": "m", "profile": "meter", "connection": "bus", "unit_id": 1, "poll_interval_s": 0.5}],
              "uplink": {"status_interval_s": 60}}  # fmt: skip
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(config))
    server = await asyncio.start_server(device, "127.0.0.1", port)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "edge_agent.cli", "run", "--config", str(tmp_path / "agent.yaml"),
            "--state-dir", str(tmp_path / "state"), cwd=ROOT, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await asyncio.sleep(6)  # about eight failed polls, three of them before the quarantine
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        server.close()
        await server.wait_closed()
    return err.decode().splitlines()


async def test_a_silent_device_is_logged_once_not_every_poll(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    lines = await _agent_log(tmp_path, mosquitto, _swallow)
    assert sum("m: read failed (timeout" in line for line in lines) == 1, lines
    assert sum("quarantined after 3 silent polls" in line for line in lines) == 1, lines
    assert not [line for line in lines if "pymodbus" in line or line.startswith(">>>>>")], lines
    assert not [line for line in lines if " ERROR " in line], lines


async def test_a_device_answering_garbage_is_logged_once_not_at_every_reconnect(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    lines = await _agent_log(tmp_path, mosquitto, _garble)  # each garbled answer drops the connection
    assert sum("m: read failed (comm_failure" in line for line in lines) == 1, lines
    assert sum("bus: connected to" in line for line in lines) == 1, lines  # the first; the reconnects are DEBUG
    assert not [line for line in lines if " ERROR " in line], lines
