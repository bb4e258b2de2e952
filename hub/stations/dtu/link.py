"""Modbus RTU requests through a DTU's TCP connection, for the edge agent's :class:`DevicePoller`.

The agent's poller, planner, decoders and quality codes are reused as they
are (``edge_agent.drivers.modbus``); this link replaces the pymodbus client
with the accepted stream: frames are built and parsed with pymodbus's RTU
framer and PDUs, one request at a time per DTU (the RS-485 bus behind it
carries one transaction at a time), with ``inter_frame_delay_s`` between
frames and a timeout per request. Replies arrive as ``rtu`` control events
from :class:`~hub.stations.dtu.framer.DtuFramer`; heartbeats never reach it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pymodbus.framer.rtu import FramerRTU
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadDiscreteInputsRequest,
    WriteMultipleCoilsRequest,
    WriteSingleCoilRequest,
)
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)

from citysense.profiles.model import Table
from citysense.quality import Quality
from edge_agent.errors import ModbusError
from hub.stations.base import Control

_REQUESTS: dict[Table, type[ModbusPDU]] = {
    Table.HOLDING: ReadHoldingRegistersRequest,  # FC 3
    Table.INPUT: ReadInputRegistersRequest,  # FC 4
    Table.COIL: ReadCoilsRequest,  # FC 1
    Table.DISCRETE_INPUT: ReadDiscreteInputsRequest,  # FC 2
}


class DtuLink:
    """Serialised Modbus RTU reads over one DTU connection."""

    def __init__(
        self, send: Callable[[bytes], Awaitable[None]], timeout_s: float = 5.0, inter_frame_delay_s: float = 0.1
    ) -> None:
        self.send = send
        self.timeout_s, self.inter_frame_delay_s = timeout_s, inter_frame_delay_s
        self.framer = FramerRTU(DecodePDU(is_server=False))
        self._lock = asyncio.Lock()
        self._replies: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)
        self.answered = 0
        self.failed = 0

    def on_control(self, event: Control) -> None:
        """Take an RTU reply from the connection (heartbeats and others are not replies)."""
        frame = event.payload.get("frame") if event.function == "rtu" else None
        if isinstance(frame, bytes):
            if self._replies.full():
                self._replies.get_nowait()
            self._replies.put_nowait(frame)

    async def read(self, table: Table, unit: int, start: int, count: int, *, urgent: bool = False) -> list[int]:
        """Read ``count`` registers (bits, for coil tables) of ``unit`` from ``start``; 0/1 per bit."""
        del urgent  # one request at a time, in order: a DTU's bus has no writes waiting ahead of polls
        pdu = await self._transact(_REQUESTS[table](dev_id=unit, address=start, count=count), unit)
        if table.is_bit_table:
            return [1 if b else 0 for b in pdu.bits[:count]]
        return list(pdu.registers)

    async def write(
        self, table: Table, unit: int, start: int, values: list[int], *, function_code: int | None = None
    ) -> None:
        """Write coils (FC 5 / 15) or holding registers (FC 6 / 16) of ``unit`` from ``start``.

        ``function_code`` 15 or 16 forces the multiple-write form even for one value, as the agent's link does.
        """
        request: ModbusPDU
        single = len(values) == 1 and function_code not in (15, 16)
        if table is Table.COIL:
            bits = [bool(v) for v in values]
            request = (WriteSingleCoilRequest if single else WriteMultipleCoilsRequest)(
                dev_id=unit, address=start, bits=bits
            )
        elif table is Table.HOLDING:
            request = (WriteSingleRegisterRequest if single else WriteMultipleRegistersRequest)(
                dev_id=unit, address=start, registers=values
            )
        else:
            raise ModbusError(Quality.DEVICE_EXCEPTION, f"the {table.value} table is read-only")
        await self._transact(request, unit)

    async def _transact(self, request: ModbusPDU, unit: int) -> ModbusPDU:
        async with self._lock:
            while not self._replies.empty():
                self._replies.get_nowait()  # a late reply to an earlier, timed-out request
            await self.send(self.framer.buildFrame(request))
            try:
                reply = await self._reply(unit)
            finally:
                await asyncio.sleep(self.inter_frame_delay_s)
        _, pdu = self.framer.handleFrame(reply, unit, 0)
        if pdu is None:
            self.failed += 1
            raise ModbusError(Quality.COMM_FAILURE, f"unit {unit}: reply {reply[:16].hex()} cannot be decoded")
        if pdu.isError():
            self.failed += 1
            code = getattr(pdu, "exception_code", None)
            raise ModbusError(Quality.DEVICE_EXCEPTION, f"unit {unit}: exception code {code}", code)
        if pdu.function_code != request.function_code:
            self.failed += 1
            raise ModbusError(Quality.COMM_FAILURE, f"unit {unit}: answer of function {pdu.function_code}")
        self.answered += 1
        return pdu

    async def _reply(self, unit: int) -> bytes:
        try:
            async with asyncio.timeout(self.timeout_s):
                while True:
                    frame = await self._replies.get()
                    if frame[0] == unit:
                        return frame
        except TimeoutError as exc:
            self.failed += 1
            raise ModbusError(Quality.TIMEOUT, f"unit {unit}: no answer through the DTU in time") from exc
