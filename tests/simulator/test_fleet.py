"""A fleet runs many nodes under one TaskGroup; ``citysense-sim`` serves them until Ctrl-C."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient

from citysense.nodekinds import NodeKind
from citysense.profiles import ProfileSet
from citysense.quality import Quality
from simulator.cli import main
from simulator.fleet import Fleet, SimulatedNode
from tests.simulator.conftest import read_point

REPO = Path(__file__).resolve().parents[2]


async def _reachable(port: int) -> bool:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    try:
        return bool(await client.connect())
    finally:
        client.close()


async def test_fleet_serves_every_node_and_stops_them_all(profiles: ProfileSet, kinds: dict[str, NodeKind]) -> None:
    fleet = Fleet.build(kinds, profiles, {"water_gauge": 2, "weather_station": 1})
    async with fleet:
        ports = [node.port for node in fleet]
        assert len(set(ports)) == 3 and all(ports)
        fleet.freeze()
        radar = profiles["radar_level_rs485"]
        for node in list(fleet)[:2]:
            client = AsyncModbusTcpClient("127.0.0.1", port=node.port, timeout=2, retries=0)
            assert await client.connect()
            try:
                got = await read_point(client, radar, radar.point("water_level"), 1)
            finally:
                client.close()
            assert got == (node.expected("level", "water_level"), Quality.GOOD)
        snapshot = fleet.snapshot()
        assert snapshot["SIM-water_gauge-1"] != snapshot["SIM-water_gauge-2"]  # seeds differ
    assert not any([await _reachable(port) for port in ports])


async def test_a_node_that_cannot_listen_fails_the_fleet(profiles: ProfileSet, kinds: dict[str, NodeKind]) -> None:
    async with SimulatedNode(kinds["weather_station"], profiles, "BUSY") as busy:
        fleet = Fleet([SimulatedNode(kinds["weather_station"], profiles, "CLASH", port=busy.port)])
        with pytest.raises(ExceptionGroup) as caught:
            async with fleet:
                pass
        assert caught.group_contains(OSError, match="CLASH: cannot listen")


async def test_cli_prints_ports_serves_and_stops_on_ctrl_c() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator.cli",
        "--kind",
        "water_gauge",
        "--count",
        "2",
        "--log-level",
        "WARNING",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=REPO,  # this checkout's simulator, whatever the environment has installed
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            lines = [(await proc.stdout.readline()).decode() for _ in range(2)]
        ports = [int(m.group(1)) for line in lines if (m := re.search(r"on 127\.0\.0\.1:(\d+)", line))]
        assert len(ports) == 2 and "level=unit 1" in lines[0] and "rain=unit 2" in lines[0]
        assert all([await _reachable(port) for port in ports])
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_cli_refuses_an_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--kind", "lighthouse"]) == 2
    err = capsys.readouterr().err
    assert "unknown node kind(s): lighthouse" in err and "smart_pole" in err


def test_cli_reports_a_busy_port(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--kind", "weather_station", "--base-port", str(port)]) == 1
    assert f"SIM-weather_station-1: cannot listen on 127.0.0.1:{port}" in caplog.text
