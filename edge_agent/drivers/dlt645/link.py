"""One DL/T 645 line (a local RS-485 port, or a serial server over TCP) as a pipe of requests.

DL/T 645 is master-slave and half duplex (2007 §5.3 "传输事项"): the link holds
one lock, so exactly one request is on the line at a time however many meters
share it; input left over from an earlier exchange is discarded before each
request, and a reply from another address (a late answer) is skipped. A
request that gets no whole frame in ``timeout_s`` fails with quality
``timeout``, or ``comm_failure`` when what came was garbled (a bad checksum:
the search for a good frame goes on after it, as a header may be noise); an abnormal
reply with ``device_exception`` (the meter's error byte is kept). Broadcasts
(time sync) expect no reply.

The serial port is pyserial in non-blocking mode watched by the event loop
(``add_reader``): no thread, no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import serial

from citysense.agentconfig import Connection, ConnectionType
from citysense.dlt645 import Frame, FrameError, decode
from citysense.quality import Quality
from edge_agent.errors import MeterError

log = logging.getLogger(__name__)

MAX_BUFFER = 4096  # bytes of line noise kept while looking for a frame
BROADCAST_QUIET_S = 0.1  # idle time after a broadcast before the next request


class _LineLost(MeterError):
    """The port itself failed (adapter unplugged, serial server closed): it is reopened on the next request."""

    def __init__(self, detail: str) -> None:
        super().__init__(Quality.COMM_FAILURE, detail)


class Garbled(MeterError):
    """Only bad frames came back: the meter is there, the line is noisy (quality ``comm_failure``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(Quality.COMM_FAILURE, detail)


class _Port(Protocol):
    def write(self, data: bytes) -> None: ...
    async def read(self) -> bytes: ...
    def discard(self) -> None: ...
    def close(self) -> None: ...


class _SerialPort:
    """A local serial port, read through the event loop."""

    def __init__(self, conn: Connection) -> None:
        assert conn.serial_port is not None
        self._ser = serial.Serial(
            conn.serial_port,
            baudrate=conn.baudrate,
            bytesize=8,
            parity=conn.parity,
            stopbits=conn.stopbits,
            timeout=0,
            write_timeout=conn.timeout_s,
        )
        self._buf = bytearray()
        self._ready = asyncio.Event()
        self._failed: Exception | None = None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._ser.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        try:
            self._buf += self._ser.read(max(1, self._ser.in_waiting))
        except (serial.SerialException, OSError) as exc:  # the adapter was unplugged
            self._failed = exc
            self._loop.remove_reader(self._ser.fileno())
        self._ready.set()

    def write(self, data: bytes) -> None:
        self._ser.write(data)

    async def read(self) -> bytes:
        while not self._buf and self._failed is None:
            self._ready.clear()
            await self._ready.wait()
        if self._failed is not None:
            raise _LineLost(f"serial port failed: {self._failed}")
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def discard(self) -> None:
        self._buf.clear()

    def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._ser.fileno())
        self._ser.close()


class _TcpPort:
    """A transparent serial server (DTU): DL/T 645 bytes as they are, over TCP."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._pending = b""

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    async def read(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        data = await self._reader.read(512)
        if not data:
            raise _LineLost("the serial server closed the connection")
        return data

    def discard(self) -> None:
        self._pending = b""  # late bytes still in the socket are skipped by the reply's address and DI check

    def close(self) -> None:
        self._writer.close()


class MeterLink:
    """Serialised access to one DL/T 645 line."""

    def __init__(self, conn: Connection) -> None:
        if not conn.type.is_dlt645:
            raise ValueError(f"{conn.id} is not a DL/T 645 connection")
        self.conn = conn
        self._lock = asyncio.Lock()
        self._port: _Port | None = None
        self._garbled = ""  # what was wrong with a bad frame seen during the current request

    def _describe(self) -> str:
        c = self.conn
        return c.serial_port or f"{c.host}:{c.port}"

    async def _connected(self) -> _Port:
        if self._port is not None:
            return self._port
        try:
            if self.conn.type is ConnectionType.DLT645_SERIAL:
                self._port = _SerialPort(self.conn)
            else:
                assert self.conn.host is not None and self.conn.port is not None
                async with asyncio.timeout(self.conn.timeout_s * 2):
                    reader, writer = await asyncio.open_connection(self.conn.host, self.conn.port)
                self._port = _TcpPort(reader, writer)
        except (OSError, serial.SerialException, TimeoutError) as exc:
            raise MeterError(Quality.COMM_FAILURE, f"cannot open {self._describe()}: {exc}") from exc
        log.info("%s: opened %s", self.conn.id, self._describe())
        return self._port

    def _drop(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    async def transact(self, request: bytes, address: str, echo: bytes = b"") -> Frame:
        """Send ``request`` and return the reply from ``address`` (any, for the wildcard) whose data starts ``echo``.

        ``echo`` is the requested DI: a late answer to an earlier request of the same meter is skipped.
        """
        async with self._lock:
            port = await self._connected()
            self._garbled = ""
            try:
                port.discard()
                port.write(request)
                async with asyncio.timeout(self.conn.timeout_s):
                    return await self._reply(port, address, echo)
            except TimeoutError as exc:
                if self._garbled:
                    raise Garbled(f"meter {address}: garbled reply ({self._garbled})") from exc
                raise MeterError(Quality.TIMEOUT, f"meter {address}: no answer in {self.conn.timeout_s} s") from exc
            except (OSError, serial.SerialException) as exc:
                self._drop()
                raise MeterError(Quality.COMM_FAILURE, f"meter {address}: {exc}") from exc
            except _LineLost:
                self._drop()
                raise
            finally:
                if self.conn.inter_frame_delay_s:
                    await asyncio.sleep(self.conn.inter_frame_delay_s)

    async def _reply(self, port: _Port, address: str, echo: bytes) -> Frame:
        buf = b""
        while True:
            buf += await port.read()
            while True:
                try:
                    frame, used = decode(buf)
                except FrameError as exc:
                    self._garbled = str(exc)[:120]
                    buf = buf[buf.find(b"\x68") + 1 :]  # resync after this header
                    continue
                buf = buf[used:]
                if frame is None:
                    break
                mine = frame.address == address or "A" in address.upper()
                if frame.is_reply and mine and (frame.abnormal or frame.data.startswith(echo)):
                    return frame
                log.debug("%s: skipped a frame from %s", self.conn.id, frame.address)
            buf = buf[-MAX_BUFFER:]

    async def broadcast(self, request: bytes) -> None:
        """Send a broadcast frame (no meter replies) and leave the line quiet for a moment."""
        async with self._lock:
            port = await self._connected()
            try:
                port.write(request)
            except (OSError, serial.SerialException) as exc:
                self._drop()
                raise MeterError(Quality.COMM_FAILURE, f"broadcast failed: {exc}") from exc
            await asyncio.sleep(BROADCAST_QUIET_S + self.conn.inter_frame_delay_s)

    async def close(self) -> None:
        """Close the line."""
        async with self._lock:
            self._drop()
