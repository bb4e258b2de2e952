"""The lean Modbus TCP client: one TCP connection, one request at a time, answers matched by transaction id.

pymodbus' client runs every request through its transaction manager, framer
and PDU classes and arms timers of its own; at thousands of requests a second
that was a third of the agent's CPU. This client writes the request built by
:mod:`edge_agent.drivers.modbus.mbap` and resolves one future from
``data_received``; the caller (:class:`~edge_agent.drivers.modbus.leantcp.LeanTcpLink`)
holds the bus lock. Timeouts share one timer per connection: a request
records its deadline, and the timer, armed only when none is, fails the
pending request if its deadline has passed or re-arms itself for it; a
device answering within its timeout thus costs one timer per timeout period,
not one armed and cancelled per request. An answer whose
transaction or unit identifier is not the pending request's (a late answer to
a request that timed out, MODBUS Messaging on TCP/IP Implementation Guide
V1.0b §3.1.3) is dropped and counted; a header that is not Modbus (protocol
identifier not 0, a length outside 2-254) closes the connection, since the
byte stream can no longer be trusted. Modbus RTU, RTU over TCP and the
``client: pymodbus`` setting keep using pymodbus.
"""

from __future__ import annotations

import asyncio
import logging

from edge_agent.drivers.modbus.mbap import MAX_PDU, MBAP, MBAP_LEN, FrameError

log = logging.getLogger(__name__)


class LeanTcpClient(asyncio.Protocol):
    """A Modbus TCP client connection (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._tid = 0
        self._pending: tuple[int, int, asyncio.Future[bytes]] | None = None  # tid, unit, answer PDU
        self._deadline = 0.0  # loop time by which the pending request must be answered
        self._timer: asyncio.TimerHandle | None = None
        self.stray = 0  # answers that matched no pending request (late, or for another unit)

    @property
    def connected(self) -> bool:
        """True while the TCP connection is up."""
        return self._transport is not None and not self._transport.is_closing()

    async def connect(self, host: str, port: int) -> None:
        """Open the connection (the caller bounds the wait); raises OSError."""
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self, host, port)

    def next_tid(self) -> int:
        """The transaction identifier of the next request (1-65535, then round again)."""
        self._tid = self._tid % 0xFFFF + 1
        return self._tid

    def request(self, tid: int, unit: int, adu: bytes, timeout_s: float) -> asyncio.Future[bytes]:
        """Send ``adu``; the future gets the PDU of the answer with the same transaction and unit identifiers.

        It fails with TimeoutError after ``timeout_s`` without one, ConnectionError when the connection goes,
        FrameError when the device sends what is not Modbus TCP.
        """
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionError("not connected")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes] = loop.create_future()
        self._pending = (tid, unit, fut)
        self._deadline = loop.time() + timeout_s
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._on_timer)
        transport.write(adu)
        return fut

    def _on_timer(self) -> None:
        self._timer = None
        pending = self._pending
        if pending is None or pending[2].done():
            return
        loop = asyncio.get_running_loop()
        if loop.time() >= self._deadline - 0.001:  # the loop may run a timer up to its clock resolution early
            self._pending = None
            pending[2].set_exception(TimeoutError())
        else:
            self._timer = loop.call_at(self._deadline, self._on_timer)

    def close(self) -> None:
        """Close the connection (a pending request fails)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()

    # --- asyncio.Protocol ----------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._buf.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._fail(ConnectionError(f"connection lost ({exc or 'closed by the device'})"))

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while len(buf) >= MBAP_LEN:
            tid, protocol, length, unit = MBAP.unpack_from(buf)
            if protocol != 0 or not 2 <= length <= MAX_PDU + 1:
                self._fail(FrameError(f"not a Modbus TCP answer (protocol {protocol}, length {length})"))
                if self._transport is not None:
                    self._transport.abort()
                buf.clear()
                return
            end = 6 + length
            if len(buf) < end:
                return
            pdu = bytes(buf[MBAP_LEN:end])
            del buf[:end]
            pending = self._pending
            if pending is not None and pending[0] == tid and pending[1] == unit and not pending[2].done():
                self._pending = None
                pending[2].set_result(pdu)
            else:
                self.stray += 1
                log.debug("%s: answer with transaction %d, unit %d matches no request; dropped", self.name, tid, unit)

    def _fail(self, exc: Exception) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not pending[2].done():
            pending[2].set_exception(exc)
