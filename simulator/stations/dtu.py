"""A simulated 4G DTU site: dials in, registers, sends heartbeats, and passes Modbus RTU through to its units.

Like a transparent-mode DTU (USR-G771/G780, Four-Faith F2x14): it sends its
registration packet (``prefix`` + id) when the link comes up and its
heartbeat every ``heartbeat_s``; every RTU request from the hub goes to the
RS-485 bus, here the simulator's Modbus TCP server of the site's devices
(:class:`simulator.fleet.SimulatedNode`), converted between the RTU frame
(address, PDU, CRC; Modbus over Serial Line V1.02 §2.5.1) and the MBAP
header (Modbus Messaging on TCP/IP V1.0b §3.1.3) as a serial server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

from pymodbus.framer.rtu import FramerRTU

log = logging.getLogger(__name__)


def _request_size(buf: bytes) -> int:
    """Length of the RTU request at the start of ``buf`` (0: wait for more)."""
    if len(buf) < 7:
        return 0
    if buf[1] in (15, 16):
        return 9 + buf[6]
    return 8


class SimulatedDtu:
    """One DTU and the bus behind it."""

    def __init__(
        self,
        ident: str,
        hub: tuple[str, int],
        bus: tuple[str, int],
        *,
        prefix: str = "",
        heartbeat: str = "",
        heartbeat_s: float = 30.0,
    ) -> None:
        self.ident, self.hub, self.bus = ident, hub, bus
        self.prefix, self.heartbeat, self.heartbeat_s = prefix, heartbeat, heartbeat_s
        self.requests = 0
        self.heartbeats = 0
        self._tid = 0

    async def run(self) -> None:
        """Stay dialled in until cancelled, dialling again after a lost link."""
        while True:
            try:
                await self.session()
            except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
                log.info("%s: link lost (%s); dialling again", self.ident, exc)
            await asyncio.sleep(2.0)

    async def session(self) -> None:
        """One connection: register, then serve requests and send heartbeats until the link drops."""
        reader, writer = await asyncio.open_connection(*self.hub)
        bus_reader, bus_writer = await asyncio.open_connection(*self.bus)
        lock = asyncio.Lock()  # a heartbeat never lands inside a reply
        try:
            writer.write(f"{self.prefix}{self.ident}".encode())
            await writer.drain()
            async with asyncio.TaskGroup() as tg:
                beat = tg.create_task(self._beat(writer, lock), name=f"sim:dtu:{self.ident}:heartbeat")
                try:
                    await self._serve(reader, writer, bus_reader, bus_writer, lock)
                finally:
                    beat.cancel()
        finally:
            for w in (writer, bus_writer):
                w.close()
                with contextlib.suppress(OSError):
                    await w.wait_closed()

    async def _beat(self, writer: asyncio.StreamWriter, lock: asyncio.Lock) -> None:
        if not self.heartbeat:
            return
        while True:
            await asyncio.sleep(self.heartbeat_s)
            async with lock:
                writer.write(self.heartbeat.encode())
                await writer.drain()
            self.heartbeats += 1

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        bus_reader: asyncio.StreamReader,
        bus_writer: asyncio.StreamWriter,
        lock: asyncio.Lock,
    ) -> None:
        buf = b""
        while data := await reader.read(4096):
            buf += data
            while (size := _request_size(buf)) and len(buf) >= size:
                frame, buf = buf[:size], buf[size:]
                if not FramerRTU.check_CRC(frame[:-2], int.from_bytes(frame[-2:], "big")):
                    continue  # a serial device ignores a frame with a bad CRC
                reply = await self._bus(frame[0], frame[1:-2], bus_reader, bus_writer)
                async with lock:
                    writer.write(reply)
                    await writer.drain()
                self.requests += 1

    async def _bus(
        self, unit: int, pdu: bytes, bus_reader: asyncio.StreamReader, bus_writer: asyncio.StreamWriter
    ) -> bytes:
        self._tid = (self._tid + 1) & 0xFFFF
        bus_writer.write(struct.pack(">HHHB", self._tid, 0, len(pdu) + 1, unit) + pdu)
        await bus_writer.drain()
        async with asyncio.timeout(5):
            head = await bus_reader.readexactly(7)
            _, _, length, got_unit = struct.unpack(">HHHB", head)
            answer = await bus_reader.readexactly(length - 1)
        adu = bytes([got_unit]) + answer
        return adu + FramerRTU.compute_CRC(adu).to_bytes(2, "big")
