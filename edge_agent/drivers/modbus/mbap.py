"""Modbus TCP frames of the lean client: requests built and answers checked with one ``struct`` call each.

ADU = MBAP header + PDU (MODBUS Messaging on TCP/IP Implementation Guide
V1.0b §3.1.2). The MBAP header (§3.1.3) is 7 bytes: transaction identifier
(2, echoed by the server), protocol identifier (2, 0 = Modbus), length (2:
the bytes that follow, unit identifier included) and unit identifier (1,
echoed). The PDU (MODBUS Application Protocol V1.1b3 §4.1) is a function code
and its data, at most 253 bytes. Function codes (§6): 1 read coils, 2 read
discrete inputs (quantity 1-2000 bits, answered as a byte count and the bits
packed LSB first, §6.1/§6.2), 3 read holding and 4 read input registers
(quantity 1-125, a byte count and big-endian words, §6.3/§6.4), 5 write
single coil (value FF00 or 0000, echoed, §6.5), 6 write single register
(echoed, §6.6), 15 write multiple coils (quantity 1-1968, §6.11) and 16 write
multiple registers (quantity 1-123, §6.12), whose answers echo start and
quantity. An exception answer (§7) carries the function code + 0x80 and one
exception code.
"""

from __future__ import annotations

import struct

from citysense.quality import Quality
from edge_agent.errors import AgentError, ModbusError

MBAP = struct.Struct(">HHHB")  # transaction id, protocol id, length, unit id (§3.1.3)
MBAP_LEN = 7
MAX_PDU = 253  # MODBUS Application Protocol V1.1b3 §4.1
_READ = struct.Struct(">HHHBBHH")  # MBAP + function code, start, quantity (§6.1-§6.4)
_ADDR_QTY = struct.Struct(">HH")
_QUANTITY = {1: 2000, 2: 2000, 3: 125, 4: 125, 15: 1968, 16: 123}
_WORDS = [struct.Struct(f">{n}H") for n in range(126)]


class FrameError(AgentError):
    """The peer sent bytes that are not a valid answer to our request (a protocol error, not a device exception)."""


class DeviceException(AgentError):
    """The device answered with a Modbus exception (§7)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"exception code {code}")
        self.code = code


def _quantity(fc: int, count: int) -> None:
    if not 1 <= count <= _QUANTITY[fc]:  # a request no device may answer (as pymodbus, a communication failure)
        raise ModbusError(Quality.COMM_FAILURE, f"function {fc}: quantity {count} outside 1-{_QUANTITY[fc]}")


def read_request(tid: int, unit: int, fc: int, start: int, count: int) -> bytes:
    """The ADU reading ``count`` bits (FC 1, 2) or registers (FC 3, 4) from ``start``."""
    _quantity(fc, count)
    return _READ.pack(tid, 0, 6, unit, fc, start, count)


def write_request(tid: int, unit: int, fc: int, start: int, values: list[int]) -> bytes:
    """The ADU writing ``values`` from ``start`` with FC 5, 6, 15 or 16."""
    if fc == 5:
        pdu = struct.pack(">BHH", 5, start, 0xFF00 if values[0] else 0x0000)
    elif fc == 6:
        pdu = struct.pack(">BHH", 6, start, values[0] & 0xFFFF)
    elif fc == 15:
        _quantity(15, len(values))
        packed = bytearray((len(values) + 7) // 8)
        for i, v in enumerate(values):
            if v:
                packed[i // 8] |= 1 << (i % 8)  # LSB of the first byte is the first coil (§6.11)
        pdu = struct.pack(">BHHB", 15, start, len(values), len(packed)) + bytes(packed)
    elif fc == 16:
        _quantity(16, len(values))
        pdu = struct.pack(f">BHHB{len(values)}H", 16, start, len(values), 2 * len(values),
                          *(v & 0xFFFF for v in values))  # fmt: skip
    else:
        raise ValueError(f"function code {fc} is not a write")
    return MBAP.pack(tid, 0, len(pdu) + 1, unit) + pdu


def read_answer(fc: int, count: int, pdu: bytes) -> list[int]:
    """The bits (0/1) or registers of an answer to a read; raise DeviceException or FrameError."""
    _check_function(fc, pdu)
    expected = (count + 7) // 8 if fc in (1, 2) else 2 * count
    if len(pdu) < 2 or pdu[1] != expected or len(pdu) != 2 + expected:
        raise FrameError(f"function {fc}: {len(pdu)}-byte answer for {count} values (byte count {expected} expected)")
    if fc in (1, 2):
        return [(pdu[2 + i // 8] >> (i % 8)) & 1 for i in range(count)]  # LSB first (§6.1, §6.2)
    return list(_WORDS[count].unpack_from(pdu, 2))


def write_answer(fc: int, start: int, values: list[int], pdu: bytes) -> None:
    """Check the echo of a write (§6.5, §6.6: address and value; §6.11, §6.12: address and quantity)."""
    _check_function(fc, pdu)
    if len(pdu) != 5:
        raise FrameError(f"function {fc}: {len(pdu)}-byte answer to a write (5 expected)")
    address, second = _ADDR_QTY.unpack_from(pdu, 1)
    if fc == 5:
        want = 0xFF00 if values[0] else 0
    elif fc == 6:
        want = values[0] & 0xFFFF
    else:
        want = len(values)
    if (address, second) != (start, want):
        raise FrameError(f"function {fc}: the answer echoes {address}/{second}, not {start}/{want}")


def _check_function(fc: int, pdu: bytes) -> None:
    if not pdu:
        raise FrameError("empty answer")
    if pdu[0] == fc | 0x80:  # exception response (§7)
        if len(pdu) != 2:
            raise FrameError(f"function {fc}: malformed exception answer of {len(pdu)} bytes")
        raise DeviceException(pdu[1])
    if pdu[0] != fc:
        raise FrameError(f"function {pdu[0]} answered to function {fc}")
