"""The lean Modbus TCP client: pymodbus' bytes for the same requests, and honest outcomes on a misbehaving stream."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from pymodbus.framer import FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadCoilsResponse,
    ReadDiscreteInputsRequest,
    WriteMultipleCoilsRequest,
    WriteSingleCoilRequest,
)
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)

from citysense.agentconfig import Connection
from citysense.profiles.model import Table
from citysense.quality import Quality
from edge_agent.drivers.modbus.link import ModbusLink
from edge_agent.drivers.modbus.mbap import DeviceException, read_answer, read_request, write_request
from edge_agent.drivers.modbus.poller import DevicePoller
from edge_agent.errors import ModbusError
from tests.agent.support import modbus_tcp_server
from tests.agent.test_modbus_read import HOLEY, ListSink, holey_device, profile
from tests.harness import free_port

CLIENT, SERVER = FramerSocket(DecodePDU(False)), FramerSocket(DecodePDU(True))


@pytest.mark.parametrize(
    ("fc", "request_type"),
    [(1, ReadCoilsRequest), (2, ReadDiscreteInputsRequest), (3, ReadHoldingRegistersRequest),
     (4, ReadInputRegistersRequest)],
)  # fmt: skip
def test_read_requests_are_the_bytes_pymodbus_sends(fc: int, request_type: type[ModbusPDU]) -> None:
    for tid, unit, start, count in [(1, 1, 0, 1), (513, 7, 100, 40), (65535, 247, 65000, 125)]:
        theirs = CLIENT.buildFrame(request_type(dev_id=unit, transaction_id=tid, address=start, count=count))
        assert read_request(tid, unit, fc, start, count) == theirs


def test_write_requests_are_the_bytes_pymodbus_sends() -> None:
    cases: list[tuple[int, list[int], ModbusPDU]] = [
        (5, [1], WriteSingleCoilRequest(dev_id=3, transaction_id=9, address=17, bits=[True])),
        (5, [0], WriteSingleCoilRequest(dev_id=3, transaction_id=9, address=17, bits=[False])),
        (6, [0xBEEF], WriteSingleRegisterRequest(dev_id=3, transaction_id=9, address=17, registers=[0xBEEF])),
        (15, [1, 0, 1, 1, 0, 0, 0, 0, 1, 1], WriteMultipleCoilsRequest(
            dev_id=3, transaction_id=9, address=17, bits=[True, False, True, True, False, False, False, False, True,
                                                          True])),
        (16, [1, 2, 0xFFFF], WriteMultipleRegistersRequest(dev_id=3, transaction_id=9, address=17,
                                                           registers=[1, 2, 0xFFFF])),
    ]  # fmt: skip
    for fc, values, theirs in cases:
        assert write_request(9, 3, fc, 17, values) == CLIENT.buildFrame(theirs), fc


def test_answers_pymodbus_servers_send_read_back_the_same_values() -> None:
    regs = [0, 1, 0x7FFF, 0x8000, 0xFFFF, 1234]
    frame = SERVER.buildFrame(ReadHoldingRegistersResponse(dev_id=1, transaction_id=5, registers=regs))
    assert read_answer(3, len(regs), frame[7:]) == regs
    bits = [True, False, False, True, True, False, True, False, False, True, True]
    frame = SERVER.buildFrame(ReadCoilsResponse(dev_id=1, transaction_id=5, bits=bits))
    assert read_answer(1, len(bits), frame[7:]) == [int(b) for b in bits]
    frame = SERVER.buildFrame(ExceptionResponse(3, 2, device_id=1, transaction=5))
    with pytest.raises(DeviceException) as exc:
        read_answer(3, 4, frame[7:])
    assert exc.value.code == 2


def lean(port: int, timeout_s: float = 0.3) -> ModbusLink:
    return ModbusLink(Connection(id="bus", type="modbus_tcp", host="127.0.0.1", port=port, timeout_s=timeout_s))


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


@contextlib.asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[int]:
    """A TCP server on a free port; each connection runs ``script`` with the connection's number (0, 1, ...)."""
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        n, connections = connections, connections + 1
        try:
            await script(reader, writer, n)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    port = free_port()
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


def answer(tid: int, unit: int, regs: list[int]) -> bytes:
    pdu = struct.pack(f">BB{len(regs)}H", 3, 2 * len(regs), *regs)
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


async def request(reader: asyncio.StreamReader) -> tuple[int, int]:
    tid, _, _, unit, _, _, _ = struct.unpack(">HHHBBHH", await reader.readexactly(12))
    return tid, unit


async def test_a_late_answer_to_an_earlier_request_is_dropped_and_the_right_one_used() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while True:
            tid, unit = await request(reader)
            writer.write(answer((tid - 1) & 0xFFFF, unit, [666, 666]))  # the answer to a request that timed out
            writer.write(answer(tid, unit + 1, [777, 777]))  # for another unit behind a gateway
            reply = answer(tid, unit, [1, 2])
            for i in range(len(reply)):  # in pieces, as TCP may deliver it
                writer.write(reply[i : i + 1])
                await writer.drain()

    async with scripted(script) as port:
        link = lean(port)
        try:
            assert await link.read(Table.HOLDING, 5, 0, 2) == [1, 2]
            assert await link.read(Table.HOLDING, 5, 0, 2) == [1, 2]
        finally:
            await link.close()


async def test_no_answer_for_our_unit_is_a_timeout_and_the_connection_stays() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        assert n == 0, "the client reconnected after a mere timeout"
        while True:
            tid, unit = await request(reader)
            writer.write(answer(tid, unit, [9, 9]) if unit == 1 else answer(tid, 99, [0, 0]))

    async with scripted(script) as port:
        link = lean(port, timeout_s=0.2)
        try:
            assert await link.read(Table.HOLDING, 1, 0, 2) == [9, 9]  # arms the connection's timer for its deadline
            with pytest.raises(ModbusError) as exc:
                await link.read(Table.HOLDING, 2, 0, 2)  # the timer, due first for the answered read, waits on
            assert exc.value.quality is Quality.TIMEOUT
            assert await link.read(Table.HOLDING, 1, 0, 2) == [9, 9]
        finally:
            await link.close()


async def test_bytes_that_are_not_modbus_fail_the_request_and_the_next_one_reconnects() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            tid, unit = await request(reader)
            if n == 0:
                writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")  # a web server on the Modbus port
            else:
                writer.write(answer(tid, unit, [4, 5]))

    async with scripted(script) as port:
        link = lean(port)
        try:
            with pytest.raises(ModbusError) as exc:
                await link.read(Table.HOLDING, 1, 0, 2)
            assert exc.value.quality is Quality.COMM_FAILURE
            assert await link.read(Table.HOLDING, 1, 0, 2) == [4, 5]
        finally:
            await link.close()


async def test_a_device_that_drops_the_connection_is_reconnected() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        tid, unit = await request(reader)
        writer.write(answer(tid, unit, [7, 8]))
        await writer.drain()  # then close: one answer per connection

    async with scripted(script) as port:
        link = lean(port)
        try:
            got: list[object] = []
            for _ in range(4):
                try:
                    got.append(await link.read(Table.HOLDING, 1, 0, 2))
                except ModbusError as exc:
                    got.append(exc.quality)
            assert got.count([7, 8]) >= 2 and set(map(str, got)) <= {str([7, 8]), str(Quality.COMM_FAILURE)}
        finally:
            await link.close()


async def test_a_poll_reads_the_same_through_the_lean_client_and_through_pymodbus() -> None:
    prof = profile(HOLEY + "- {metric: f, table: holding, address: 5, type: uint16}\n")
    async with modbus_tcp_server([holey_device(1)]) as port:
        got = []
        for client in ("lean", "pymodbus"):
            conn = Connection(id="bus", type="modbus_tcp", host="127.0.0.1", port=port, timeout_s=0.5,
                              modbus_client=client)  # fmt: skip
            link = ModbusLink(conn)
            poller = DevicePoller("d1", prof, 1, link, ListSink(), 1.0)
            try:
                got.append([[(r.metric, r.value, r.quality) for r in await poller.poll_once()] for _ in range(2)])
            finally:
                await link.close()
    assert got[0] == got[1]
    assert ("f", None, "device_exception") in got[0][0] and ("c", 1.5, "good") in got[0][0]
