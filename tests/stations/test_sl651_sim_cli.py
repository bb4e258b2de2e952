"""The SL 651 station simulator as a process: dials a central station on loopback, redials, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

from hub.stations.base import Report
from hub.stations.sl651.protocol import Sl651Protocol


async def test_simulator_process_reports_from_each_station_redials_and_stops_on_sigterm() -> None:
    protocol = Sl651Protocol()
    stations: set[str] = set()
    got_both = asyncio.Event()
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:  # the first call drops at once: the station must redial
            writer.close()
            return
        framer = protocol.framer()
        try:
            while data := await reader.read(4096):
                for event in framer.feed(data):
                    if isinstance(event, Report):
                        stations.add(event.station)
                    if event.reply is not None:
                        writer.write(event.reply)
                if len(stations) == 2:
                    got_both.set()
        except ConnectionResetError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    args = ["--port", str(port), "--rain-gauges", "1", "--water-levels", "1", "--interval", "30", "--max-backoff", "1"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator.stations.sl651_run",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            await got_both.wait()
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        server.close()
        await server.wait_closed()
    assert code == 0
    assert stations == {"0010000001", "0020000001"}
    assert connections >= 3  # one dropped call, then one link per station
